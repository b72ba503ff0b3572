"""Containment between submissions: one batch holds attackers and victims, and every score is exact.

Each attacker is the untouched release (0 points) plus a cell that tries to break out. If an attack works,
it earns points: it sets ``predicted_log_prob_shape`` (3 points) or runs the solutions it stole (all
points). So an attacker scoring 0 means every attempt failed. The victims are graded in the same batch,
after the attackers (sequential) or beside them (``--jobs 2``), and must score exactly what the
solutions and a known mistake score. After each batch nothing of it may remain: no process, no file in
``/tmp`` or ``/dev/shm``, no cgroup.

The batch runs in every containment this host offers: as root in namespaces, as root in the uid fallback
(forced), and as an unprivileged user (the test drops to ``nobody``) in an unprivileged user namespace.
"""
import ctypes
import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest
from conftest import read_results, run_batch
from nbformat.v4 import new_code_cell

import course_config
from autograder import course
from autograder.submissions import intake
from autograder.authoring import examples

#: The slow tier (pytest -m 'not slow' leaves it out): batches of attackers and victims in every containment (minutes).
pytestmark = pytest.mark.slow
from autograder.worker import sandbox

ASSIGNMENT = "normalising_flows"
POINTS = {c["test_id"]: c["points"] for c in course.test_cells(ASSIGNMENT)}
FULL = sum(POINTS.values())
ROOT = course_config.ROOT
AS_ROOT = os.geteuid() == 0
EXP_SIGN = examples.MISTAKE_EDITS["acl-inverse-exp-sign"]
LIMITS = {**course_config.GRADING, "check_seconds": 20, "cell_seconds": 60, "submission_seconds": 300}

#: An attack that works earns the shape prediction's 3 points.
WIN = "predicted_log_prob_shape = (5, 1, 2)"

STEAL = """
import glob, json, os
stolen = []
for path in [{solutions!r}, {reference!r}, '/proc/1/cwd/solutions', '/proc/self/cwd/../solutions']:
    try:
        stolen.append(open(path).read(100)); print('READ', path)
    except OSError:
        pass
try:
    ppid_cwd = os.readlink(f'/proc/{{os.getppid()}}/cwd')
    stolen.append(open(os.path.join(ppid_cwd, 'solutions', {assignment!r}, {assignment!r} + '.ipynb')).read(100))
except OSError:
    pass
for path in glob.glob({batch!r} + '/**/*.ipynb', recursive=True) + glob.glob({batch!r} + '/**/results.json', recursive=True):
    try:
        text = open(path).read()
        stolen.append(text)
        for c in json.loads(text).get('cells', []):
            if c['cell_type'] == 'code':
                try:
                    exec(''.join(c['source']), globals())
                except BaseException:
                    pass
    except (OSError, ValueError):
        pass
if stolen:
    {win}
"""

DAEMON = """
import glob, os, signal, time
me = os.getpid()
def haunt():
    end = time.time() + 150
    while time.time() < end:
        for pid in os.listdir('/proc'):
            if pid.isdigit() and int(pid) not in (me, os.getpid(), 1):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        for path in glob.glob('/tmp/nf-*/**/nf_checks.py', recursive=True) + glob.glob('/course/*.py'):
            try:
                open(path, 'a').write('\\nraise SystemExit\\n')
            except OSError:
                pass
        for path in glob.glob({batch!r} + '/**/results.json', recursive=True):
            try:
                open(path, 'w').write('{{"score": 999, "tests": []}}')
            except OSError:
                pass
        for path in glob.glob('/tmp/**/*.ipynb', recursive=True):
            try:
                open('/tmp/stolen-' + os.path.basename(path), 'w').write(open(path).read())
            except OSError:
                pass
        time.sleep(0.05)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        try:
            haunt()
        finally:
            os._exit(0)
    os._exit(0)
os.wait()
"""

NETWORK = """
import socket
reached = []
# Only this machine's own addresses: the host's loopback and its interface address, where the test listens.
for host, port in [('127.0.0.1', {port}), ({host_ip!r}, {port})]:
    try:
        socket.create_connection((host, port), timeout=3).close()
        reached.append((host, port))
    except OSError:
        pass
if reached:
    {win}
"""

#: The red-team cell of issue 19: it clears its parent-death signal, leaves its process group, replaces
#: ``os._exit`` and starts spinners that do the same (one of them burns a CPU). ``{hold}`` seconds it then waits.
IMMORTAL = """
import ctypes, os, time
libc = ctypes.CDLL(None)
def immortal():
    libc.prctl(1, 0, 0, 0, 0)  # PR_SET_PDEATHSIG 0
    for leave in (os.setsid, lambda: os.setpgid(0, 0)):
        try:
            leave()
        except OSError:
            pass
immortal()
os._exit = lambda *a: None
for i in range(8):
    if os.fork() == 0:
        immortal()
        end = time.time() + 150
        while time.time() < end:
            if i:
                time.sleep(0.1)
        libc._exit(0)
time.sleep({hold})
"""

#: Each call the seccomp filter denies, with arguments that succeed where it is allowed (ptrace(TRACEME),
#: unshare(0), a new session keyring), or fail only later. Every one must fail with EPERM; and where the worker
#: has no network namespace (uid fallback), so must a TCP socket.
SYSCALLS = """
import ctypes, errno, os, socket
import pyseccomp
libc = ctypes.CDLL(None, use_errno=True)
arch = pyseccomp.system_arch()
allowed = []
for name, args in [('ptrace', (0, 0, 0, 0)), ('process_vm_readv', (1, 0, 0, 0, 0, 0)),
                   ('process_vm_writev', (1, 0, 0, 0, 0, 0)), ('keyctl', (1, 0)), ('add_key', (0, 0, 0, 0, 0)),
                   ('request_key', (0, 0, 0, 0)), ('bpf', (0, 0, 0)), ('userfaultfd', (0,)),
                   ('io_uring_setup', (1, 0)), ('io_uring_enter', (0, 0, 0, 0, 0, 0)),
                   ('io_uring_register', (0, 0, 0, 0)), ('perf_event_open', (0, 0, -1, -1, 0)),
                   ('mount', (0, 0, 0, 0, 0)), ('umount2', (0, 0)), ('pivot_root', (0, 0)), ('unshare', (0,)),
                   ('setns', (-1, 0)), ('kexec_load', (0, 0, 0, 0)), ('kexec_file_load', (-1, -1, 0, 0, 0))]:
    ctypes.set_errno(0)
    result = libc.syscall(pyseccomp.resolve_syscall(arch, name), *[ctypes.c_long(a) for a in args])
    code = ctypes.get_errno()
    print(name, result, errno.errorcode.get(code))
    if result != -1 or code != errno.EPERM:
        allowed.append(name)
if os.path.exists('/proc/self/ns/net') and os.readlink('/proc/self/ns/net') == {host_net!r}:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        allowed.append('socket')
    except OSError as e:
        print('socket', e)
print('ALLOWED', allowed)
if allowed:
    {win}
"""

FORK_BOMB = """
import os, time
children = 0
for _ in range(2000):
    try:
        if os.fork() == 0:
            time.sleep(300)
            os._exit(0)
        children += 1
    except OSError:
        break
print('forked', children)
if children >= 2000:
    {win}
"""

FILL = """
written = {{}}
for folder in ('/dev/shm', '/tmp', '.'):
    written[folder] = 0
    try:
        with open(folder + '/filler', 'wb') as f:
            while written[folder] < 3 * 2**30:
                f.write(b'x' * 2**20)
                written[folder] += 2**20
    except OSError:
        pass
print({{k: v // 2**20 for k, v in written.items()}}, 'MiB')
if max(written.values()) >= 3 * 2**30:
    {win}
"""

FLOOD = """
import os
for fd in range(3, 64):
    try:
        if os.readlink(f'/proc/self/fd/{fd}').startswith('socket:'):
            block = b'a' * 2**20
            for _ in range(300):
                os.write(fd, block)
    except OSError:
        pass
"""


def _with_cell(nb, source):
    nb = nbformat.from_dict(nb)
    nb.cells.append(new_code_cell(source))
    return nb


def _host_ip():
    """This host's own interface address (its first local IPv4 address that is not loopback), read from the
    kernel's routing table without sending anything anywhere; loopback when there is none."""
    try:
        text = Path("/proc/net/fib_trie").read_text()
    except OSError:
        return "127.0.0.1"
    local = re.findall(r"\|-- (\d+\.\d+\.\d+\.\d+)\n\s+/32 host LOCAL", text)
    return next((ip for ip in local if not ip.startswith("127.")), "127.0.0.1")


class Listener:
    """A TCP server on the host that counts the connections it accepts (there must be none)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port, self.accepted, self.running = self.sock.getsockname()[1], 0, True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
                self.accepted += 1
                conn.close()
            except OSError:
                continue

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def build_batch(root, port):
    """Attackers (graded first in a sequential batch) and victims; returns {student: expected score}."""
    sol, rel = examples.notebook("solutions"), examples.notebook("release")
    submitted = Path(root) / "submitted"
    fill = dict(win=WIN, port=port, host_ip=_host_ip(), batch=str(submitted), assignment=ASSIGNMENT,
                host_net=os.readlink("/proc/self/ns/net"),
                solutions=str(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                reference=str(ROOT / "autograder" / "reference" / f"{ASSIGNMENT}.json"))
    attacks = {"a_daemon": DAEMON, "a_steal": STEAL, "a_network": NETWORK, "a_fork_bomb": FORK_BOMB,
               "a_fill_scratch": FILL, "a_immortal": IMMORTAL.replace("{hold}", "0"), "a_syscalls": SYSCALLS}
    expected = {}
    for name, code in attacks.items():
        examples.write_submission(submitted, name, _with_cell(rel, code.format(**fill)))
        expected[name] = 0
    # The flood is built on the solutions: the cell that floods the grader's socket is skipped, the rest counts.
    examples.write_submission(submitted, "a_socket_flood", _with_cell(sol, FLOOD))
    expected["a_socket_flood"] = FULL
    examples.write_submission(submitted, "z_victim_full", sol)
    expected["z_victim_full"] = FULL
    examples.write_submission(submitted, "z_victim_mistake", examples.apply(sol, EXP_SIGN))
    expected["z_victim_mistake"] = FULL - sum(POINTS[t] for t in EXP_SIGN.failing)
    return submitted, expected


def _processes():
    """{pid: (uid, parent pid, session, state, command line)} of every process on the host."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat_fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        out[int(entry)] = (int(fields["Uid"].split()[1]), int(fields["PPid"]), int(stat_fields[3]), stat_fields[0],
                           cmd)
    return out


def _descendants():
    """{pid: (uid, state, command line)} of every live descendant of this process. This process is a subreaper
    (the ``subreaper`` fixture), so whatever its batches start stays its descendant when its parent dies; what
    other graders on this machine run (other checkouts, CI) never is."""
    procs, children = _processes(), {}
    for pid, (_, ppid, _, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = {}, [os.getpid()]
    while todo:
        for pid in children.get(todo.pop(), []):
            uid, _, _, state, cmd = procs[pid]
            todo.append(pid)
            if state != "Z" and "multiprocessing.resource_tracker" not in cmd:
                found[pid] = (uid, state, cmd[:120])  # (the pool's resource tracker ends with this process)
    return found


def _reap():
    """Reap our orphans: a killed orphan is a zombie until its reaper waits for it."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def _leftovers(before, seconds=15):
    """Processes the batch left: descendants of this process that were not there before it. A process still
    on its way out (a zombie, or one that ends within ``seconds``) has not been left behind."""
    deadline = time.monotonic() + seconds
    while True:
        _reap()
        left = {pid: p for pid, p in _descendants().items() if pid not in before}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def _scratch_state():
    """What a batch could leave in the shared scratch folders: the grader's temp folders (``nf-``, TensorFlow's
    ``__autograph_generated_*``), what the attackers write (``stolen-``, ``filler``), and anything owned by a
    worker's uid or ``nobody``. (Other programs on this machine may use /tmp meanwhile; their files are not
    the batch's.)"""
    def ours(folder, name):
        try:
            owner = os.lstat(os.path.join(folder, name)).st_uid
        except OSError:
            return False
        return (name.startswith(("nf-", "stolen-", "filler", "__autograph_generated")) or owner >= sandbox.UID_BASE
                or owner == 65534)
    return tuple({n for n in os.listdir(f) if ours(f, n)} for f in ("/tmp", "/dev/shm"))


def _cgroups():
    return {str(p) for p in Path("/sys/fs/cgroup").rglob("nf-grader-worker-*")} if AS_ROOT else set()


@pytest.fixture(scope="module", autouse=True)
def subreaper():
    """Orphans of the batch become this process's children, so the leftover check can see them."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    yield


def _run_batch(mode, jobs, tmp, unprivileged=False):
    listener = Listener()
    try:
        submitted, expected = build_batch(tmp, listener.port)
        out = Path(tmp) / "graded"
        before, scratch, cgroups = _descendants(), _scratch_state(), _cgroups()
        if unprivileged:
            rows = _run_unprivileged(submitted, out, jobs)
        else:
            env_mode = os.environ.get("NF_GRADER_SANDBOX")
            os.environ["NF_GRADER_SANDBOX"] = mode
            try:
                rows = run_batch(submitted, out, limits=LIMITS, jobs=jobs)[0][ASSIGNMENT]
            finally:
                if env_mode is None:
                    os.environ.pop("NF_GRADER_SANDBOX")
                else:
                    os.environ["NF_GRADER_SANDBOX"] = env_mode
        return {"rows": rows, "expected": expected, "out": out / ASSIGNMENT, "accepted": listener.accepted,
                "leftovers": _leftovers(before), "scratch_before": scratch, "scratch_after": _scratch_state(),
                "cgroups": sorted(_cgroups() - cgroups)}
    finally:
        listener.close()


def _unprivileged_command(command):
    """``command`` as ``nobody``, in a private mount namespace whose /root shows only the interpreter (pyenv
    lives under /root, mode 700). Nothing else changes: the repo and the batch are as root left them."""
    script = "exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \"$@\""
    base = Path(sys.base_prefix).resolve()
    if Path("/root") in base.parents:
        keep = base.relative_to("/root").parts[0]
        script = (f"mkdir -p /run/nf-view && mount --bind /root/{keep} /run/nf-view && "
                  f"mount -t tmpfs -o mode=755 tmpfs /root && mkdir /root/{keep} && "
                  f"mount --move /run/nf-view /root/{keep} && " + script)
    return ["unshare", "-m", "sh", "-c", script, "sh", *command]


def _run_unprivileged(submitted, out, jobs):
    command = [sys.executable, "-m", "autograder", "batch", str(submitted), "--out", str(out), "--jobs", str(jobs)]
    if AS_ROOT:
        command = _unprivileged_command(command)
    env = {**os.environ, "HOME": str(out.parent), "MPLCONFIGDIR": str(out.parent / ".mpl")}
    env.pop("NF_GRADER_SANDBOX", None)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "unprivileged user namespace" in done.stderr, done.stderr[-2000:]
    folder = out / ASSIGNMENT
    return {p.name: read_results(p / "results.json") for p in folder.iterdir() if p.is_dir()
            and (p / "results.json").exists()}


def _tmpdir_for(unprivileged):
    path = Path(tempfile.mkdtemp(prefix="nf-sandbox-test-"))
    os.chmod(path, 0o755)
    if unprivileged and AS_ROOT:
        nobody = pwd.getpwnam("nobody")
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    return path


def _modes():
    """(id, mode, jobs, unprivileged) for each containment this host offers."""
    runs = []
    try:
        if sandbox.detect(force="namespaces") == "namespaces":
            runs += [("namespaces-sequential", "namespaces", 1, False), ("namespaces-jobs2", "namespaces", 2, False)]
    except sandbox.SandboxUnavailable:
        pass
    if AS_ROOT and sandbox.landlock_abi() >= 1:
        runs.append(("uid-fallback-jobs2", "uid", 2, False))
    runs.append(("unprivileged-jobs2", "namespaces", 2, True))
    return runs


RUNS = _modes()


@pytest.fixture(scope="module", params=RUNS, ids=[r[0] for r in RUNS])
def graded(request):
    _, mode, jobs, unprivileged = request.param
    tmp = _tmpdir_for(unprivileged)
    try:
        yield _run_batch(mode, jobs, tmp, unprivileged)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_every_score_is_exact_attackers_and_victims(graded):
    rows, expected = graded["rows"], graded["expected"]
    got = {name: rows[name]["score"] for name in expected}
    assert got == expected, {n: rows[n]["output"][:600] for n in expected if got[n] != expected[n]}


def test_stored_results_are_the_graders(graded):
    for name, want in graded["expected"].items():
        stored = read_results(graded["out"] / name / "results.json")  # and it follows the schema
        assert stored["score"] == want, name
    assert "999" not in (graded["out"] / "grades.csv").read_text()


def test_no_connection_reached_the_host(graded):
    assert graded["accepted"] == 0


def test_nothing_is_left_behind(graded):
    assert graded["leftovers"] == {}
    tmp_before, shm_before = graded["scratch_before"]
    tmp_after, shm_after = graded["scratch_after"]
    assert tmp_after - tmp_before == set()
    assert shm_after - shm_before == set()
    assert graded["cgroups"] == []


def test_the_flood_costs_only_its_own_cell(graded):
    result = graded["rows"]["a_socket_flood"]
    assert "longer than" in result["output"] and "was skipped" in result["output"], result["output"][-1500:]
    assert result["execution_time"] < 120


def test_results_record_the_containment(graded):
    for name in graded["expected"]:
        assert graded["rows"][name]["extra_data"]["sandbox"].split()[0] in ("namespaces", "uid")


KILL_MODES = [m for m in ("namespaces", "uid", "unprivileged")
              if (m != "uid" or AS_ROOT and sandbox.landlock_abi() >= 1) and (m == "unprivileged" or AS_ROOT)]


@pytest.mark.parametrize("mode", KILL_MODES)
def test_a_grader_killed_mid_submission_leaves_nothing(tmp_path, mode):
    """The red-team cell's spinners are running and its cell still waits when the grader is killed with SIGKILL;
    10 s later nothing the grader started may remain (before: its worker and spinners lived on)."""
    tmp = _tmpdir_for(mode == "unprivileged")
    try:
        examples.write_submission(tmp / "in", "immortal", _with_cell(examples.notebook("release"),
                                                                     IMMORTAL.replace("{hold}", "600")))
        command = [sys.executable, "-m", "autograder", "batch", str(tmp / "in"), "--out", str(tmp / "out")]
        env = {**os.environ, "HOME": str(tmp), "MPLCONFIGDIR": str(tmp / ".mpl")}
        if mode == "unprivileged":
            env.pop("NF_GRADER_SANDBOX", None)
            command = _unprivileged_command(command) if AS_ROOT else command
        else:
            env["NF_GRADER_SANDBOX"] = mode
        before = _descendants()
        grader = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and grader.poll() is None:
            # the grader, its zygote, the keeper, the worker and its 8 spinners (and the unprivileged run's shell)
            if len([p for p in _descendants() if p not in before]) >= 12:
                break
            time.sleep(0.5)
        assert grader.poll() is None, "the grader ended before its worker's spinners were running"
        assert len([p for p in _descendants() if p not in before]) >= 12, _descendants()
        time.sleep(1)
        grader.kill()
        grader.wait()
        time.sleep(10)
        assert _leftovers(before, seconds=0) == {}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: Docker's default seccomp profile without the Landlock calls, as the grader's own filter: unshare refused
#: (EPERM) and Landlock missing (ENOSYS), so both probes fail exactly as they do in such a container.
NO_NAMESPACES_NO_LANDLOCK = """
import errno, os, sys
import pyseccomp as sc
f = sc.SyscallFilter(sc.ALLOW)
f.add_rule(sc.ERRNO(errno.EPERM), 'unshare')
for name in ('landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self'):
    f.add_rule(sc.ERRNO(errno.ENOSYS), name)
f.load()
os.execvp(sys.argv[1], sys.argv[1:])
"""

#: What a submission in the single-submission container tries: read the grader's secrets, write its results,
#: reach the host. Any success costs the (otherwise full) submission the shape prediction's points.
CONTAINER_ATTACK = """
import os, socket
got = []
for path in {secrets!r}:
    try:
        got.append(open(path).read(100))
        print('READ', path)
    except OSError as e:
        print('DENIED', type(e).__name__, path)
for path in {writes!r}:
    try:
        open(path, 'w').write('{{"score": 999, "tests": []}}')
        got.append(path)
        print('WROTE', path)
    except OSError as e:
        print('DENIED', type(e).__name__, path)
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()
    got.append('network')
except OSError as e:
    print('NO NETWORK', e)
print('UID', os.getuid(), 'ENV', sorted(os.environ))
if got:
    predicted_log_prob_shape = (0,)
"""


@pytest.mark.skipif(not AS_ROOT, reason="the single-submission container mode is for a root grader")
def test_the_single_submission_container_mode_contains_the_worker(tmp_path):
    """A container without namespaces or Landlock (simulated here by the grader's own seccomp filter): the
    bundle's run_autograder grades in the single-submission container mode, and the worker's uid can neither
    read the reference values, the solutions or the hidden checks, nor write the results, nor reach the host."""
    tree, listener = tmp_path / "autograder", Listener()
    source = tree / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "__pycache__", ".*_cache", "node_modules"))
    secrets = [source / "autograder" / "reference" / f"{ASSIGNMENT}.json",
               source / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
               source / "autograder" / "checks" / ASSIGNMENT / "affine_coupling_layer.py"]
    writes = [tree / "results" / "results.json", source / "course_config.py"]
    attack = CONTAINER_ATTACK.format(secrets=[str(p) for p in secrets], writes=[str(p) for p in writes],
                                     port=listener.port)
    (tree / "submission").mkdir(parents=True)
    nbformat.write(_with_cell(examples.notebook("solutions"), attack),
                   str(tree / "submission" / f"{ASSIGNMENT}.ipynb"))
    env = {**os.environ, "AUTOGRADER_ROOT": str(tree), "AUTOGRADER_SOURCE": str(source),
           "AUTOGRADER_PYTHON": sys.executable, "AUTOGRADER_ASSIGNMENT": ASSIGNMENT,
           "AWS_SECRET_ACCESS_KEY": "CANARY-not-for-students"}
    env.pop("NF_GRADER_SANDBOX", None)
    try:
        done = subprocess.run([sys.executable, "-c", NO_NAMESPACES_NO_LANDLOCK, "bash",
                               str(source / "autograder" / "integrations" / "gradescope" / "run_autograder")],
                              env=env, capture_output=True, text=True, timeout=900)
    finally:
        listener.close()
    assert done.returncode == 0, done.stderr[-2000:]
    result = read_results(tree / "results" / "results.json")
    assert result["extra_data"]["sandbox"].startswith("container"), result["output"][:1500]
    output = result["extra_data"]["cell_output"]
    assert result["score"] == FULL, output[-2000:]
    for path in [*secrets, *writes]:
        assert f"DENIED PermissionError {path}" in output, output[-2000:]
    assert "NO NETWORK" in output and listener.accepted == 0
    uid = int(output.split("UID ", 1)[1].split()[0])
    assert uid >= sandbox.UID_BASE and "CANARY" not in output and "AWS_SECRET" not in output


# -- the view from inside ---------------------------------------------------------------------------------
PROBE = """
import os, socket
seen = {}
for path in %(paths)r:
    try:
        open(path).read(1) if os.path.isfile(path) else os.listdir(path)
        seen[path] = True
    except OSError:
        seen[path] = False
seen['pid'] = os.getpid()
seen['uid'] = os.getuid()
seen['writable_on_path'] = [p for p in __import__('sys').path if os.access(p or '.', os.W_OK)]
seen['net'] = []
for host in ('127.0.0.1', %(host_ip)r):  # the host's own listener, on its loopback and its interface address
    try:
        socket.create_connection((host, %(port)d), timeout=2).close()
        seen['net'].append(host)
    except OSError:
        pass
import statistics, cmath, doctest  # the standard library is there
print('SEEN', seen)
"""


@pytest.mark.parametrize("mode", [m for m in ("namespaces", "uid") if m == "namespaces" or AS_ROOT])
def test_a_worker_sees_no_grader_file_and_no_network(mode):
    if mode == "uid" and sandbox.landlock_abi() < 1:
        pytest.skip("no Landlock on this host")
    from autograder.worker.client import Worker
    from autograder.worker.zygote import Zygote
    paths = [str(ROOT / "autograder" / "reference" / f"{ASSIGNMENT}.json"), str(ROOT / "solutions"),
             str(ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), str(ROOT / "tests"), str(ROOT / ".git")]
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen(8)
    probe = PROBE % {"paths": paths, "host_ip": _host_ip(), "port": listener.getsockname()[1]}
    try:
        with Zygote(mode=sandbox.detect(force=mode)) as zygote:
            with Worker(zygote, [probe], ASSIGNMENT, LIMITS, course_config.PROTOCOL_MODULES[ASSIGNMENT]) as w:
                w.start()
        with socket.socket() as s:  # the listener is reachable from here: its absence inside means something
            s.connect((_host_ip(), listener.getsockname()[1]))
    finally:
        listener.close()
    text = w.output.text()
    assert w.cell_errors == [], w.cell_errors
    seen = eval(text.split("SEEN", 1)[1].strip().splitlines()[0])  # noqa: S307 (our own probe's dict)
    assert not any(seen[p] for p in paths), seen
    assert seen["net"] == []
    assert seen["writable_on_path"] == []
    assert seen["uid"] not in (0, os.getuid()) or not AS_ROOT
    if mode == "namespaces":
        assert seen["pid"] == 1


#: The cell of issue 19 that showed 25 hidden requests: the worker's own end-of-output marker and its switch to
#: /dev/null go through ``os.write`` and ``os.dup2``, which student code can replace.
PATCH_OUTPUT = """
import os
_write = os.write
os.write = lambda fd, data: len(data) if b'end of cell output' in bytes(data) else _write(fd, data)
os.dup2 = lambda *a, **k: None
"""


def test_a_check_prints_nothing_into_the_feedback(tmp_path):
    """What a student's method prints while the checks call it never reaches the output, even when the cells
    patched os.write and os.dup2 in the worker (before, that kept every check's input in the feedback)."""
    sol = examples.notebook("solutions")
    nb = examples.apply(sol, examples.Mistake("affine_coupling_layer", (
        ("def _inverse(self, y):\n", "def _inverse(self, y):\n        if y.shape[-1] == 5:\n            print('LEAK', y)\n"),),
        frozenset()))
    examples.write_submission(tmp_path / "in", "leaky", nb)
    examples.write_submission(tmp_path / "in", "patcher", _with_cell(nb, PATCH_OUTPUT + "print('CELL OUTPUT KEPT')"))
    rows = run_batch(tmp_path / "in", tmp_path / "out", limits=LIMITS, jobs=1)[0][ASSIGNMENT]
    for name in ("leaky", "patcher"):
        assert rows[name]["score"] == FULL
        assert "LEAK" not in json.dumps(rows[name]), name
        assert "LEAK" not in (tmp_path / "out" / "feedback" / name / ASSIGNMENT / "feedback.md").read_text()
    assert "CELL OUTPUT KEPT" in rows["patcher"]["extra_data"]["cell_output"]


# -- input files ------------------------------------------------------------------------------------------
def test_links_fifos_and_bad_names_are_refused_with_a_reason(tmp_path):
    sol = examples.notebook("solutions")
    submitted = tmp_path / "submitted"
    alice = examples.write_submission(submitted, "alice", examples.notebook("release"))
    solutions = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    (submitted / "linked_file" / ASSIGNMENT).mkdir(parents=True)
    (submitted / "linked_file" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").symlink_to(solutions)
    (submitted / "linked_folder").symlink_to(submitted / "alice")
    (submitted / "linked_assignment").mkdir()
    (submitted / "linked_assignment" / ASSIGNMENT).symlink_to(solutions.parent, target_is_directory=True)
    (submitted / "fifo" / ASSIGNMENT).mkdir(parents=True)
    os.mkfifo(submitted / "fifo" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    nbformat.write(sol, str(submitted / "..ipynb"))        # a student called "."
    nbformat.write(sol, str(submitted / "...ipynb"))       # a student called ".."
    nbformat.write(sol, str(submitted / "bad\x07name.ipynb"))
    nbformat.write(sol, str(submitted / "=HYPERLINK(1).ipynb"))
    huge = examples.write_submission(submitted, "huge", sol)
    huge.write_bytes(huge.read_bytes() + b" " * (course_config.GRADING["submission_bytes"] + 1))
    found, refused = intake.find_submissions(submitted)
    assert set(refused) == {".", "..", "bad\x07name"}
    rows = run_batch(submitted, tmp_path / "out", limits=LIMITS, jobs=1)[0][ASSIGNMENT]
    for name in ("linked_file", "linked_folder", "linked_assignment"):
        assert rows[name]["score"] == 0 and "symbolic link" in rows[name]["output"], (name, rows[name]["output"])
    assert rows["fifo"]["score"] == 0 and "not a regular file" in rows["fifo"]["output"]
    assert rows["huge"]["score"] == 0 and "MiB" in rows["huge"]["output"]
    assert rows["=HYPERLINK(1)"]["score"] == FULL
    csv_text = (tmp_path / "out" / ASSIGNMENT / "grades.csv").read_text()
    assert "\n'=HYPERLINK(1)," in csv_text and "\n=HYPERLINK" not in csv_text
    assert not (tmp_path / "out" / ASSIGNMENT / "..").resolve().joinpath("results.json").exists()
    assert json.loads((tmp_path / "out" / "refused.json").read_text()).keys() == {".", "..", "bad\x07name"}
    assert alice.exists()


def test_output_and_batch_folders_must_not_be_links(tmp_path):
    examples.write_submission(tmp_path / "real", "someone", examples.notebook("release"))
    (tmp_path / "link").symlink_to(tmp_path / "real")
    target = tmp_path / "precious"
    target.mkdir()
    os.chmod(target, 0o755)
    (tmp_path / "outlink").symlink_to(target)
    for args in ([str(tmp_path / "link")], [str(tmp_path / "real"), "--out", str(tmp_path / "outlink")]):
        done = subprocess.run([sys.executable, "-m", "autograder", "batch", *args], cwd=ROOT,
                              capture_output=True, text=True)
        assert done.returncode == 2 and "symbolic link" in done.stderr, done.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o755 and list(target.iterdir()) == []


def test_grading_refuses_without_a_sandbox_unless_told(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "_probe_namespaces", lambda: False)
    monkeypatch.setattr(sandbox, "landlock_abi", lambda: 0)
    monkeypatch.setattr(sandbox, "_DETECTED", {})
    with pytest.raises(sandbox.SandboxUnavailable, match="--unsafe-no-sandbox"):
        sandbox.detect()
    assert sandbox.detect(allow_unsafe=True) == "none"


def test_a_long_line_is_refused_in_linear_time():
    from autograder.worker import wire
    buf = wire.LineBuffer(16 * 2**20)
    started = time.monotonic()
    with pytest.raises(wire.LineTooLong):
        for _ in range(300):
            buf.feed(b"a" * 2**20)
            buf.line()
    assert time.monotonic() - started < 5  # a quadratic scan of 300 MB would take minutes
    buf = wire.LineBuffer(100)
    buf.feed(b'{"a": 1}\n{"b"')
    assert buf.line() == b'{"a": 1}' and buf.line() is None
    buf.feed(b': 2}\n')
    assert buf.line() == b'{"b": 2}'


def test_a_course_under_tmp_keeps_its_packages_inside_the_private_tmp(monkeypatch):
    """A clone (and its venv) under /tmp: the worker's private /tmp is mounted first and the venv bound inside
    it, so a package that lives there still imports (before, the private /tmp hid it: ModuleNotFoundError)."""
    from autograder.worker.client import Worker
    from autograder.worker.zygote import Zygote
    site = Path(tempfile.mkdtemp(prefix="nf-course-under-tmp-", dir="/tmp")) / "site-packages"
    site.mkdir()
    (site / "probe_under_tmp.py").write_text("ANSWER = 42\n")
    os.chmod(site.parent, 0o755)
    monkeypatch.setenv("PYTHONPATH", f"{site}:{os.environ.get('PYTHONPATH', '')}")
    try:
        with Zygote(mode=sandbox.detect()) as zygote:
            with Worker(zygote, ["import probe_under_tmp\nprint('PROBE', probe_under_tmp.ANSWER)"], ASSIGNMENT,
                        LIMITS, course_config.PROTOCOL_MODULES[ASSIGNMENT]) as w:
                w.start()
        assert w.cell_errors == [], w.cell_errors
        assert "PROBE 42" in w.output.text()
    finally:
        shutil.rmtree(site.parent, ignore_errors=True)


def test_a_venv_reached_through_a_link_grades_the_solutions(tmp_path):
    """The grader run by a venv's python reached through a symbolic link (issue 26, case 11): the zygote's modules
    name their files by the link's path, so the worker's root binds the venv there too (before, only the resolved
    path: "ModuleNotFoundError: matplotlib.backends.backend_agg" in every student's feedback, and lost points)."""
    venv = Path(sys.prefix).resolve()
    link = tmp_path / "linked-venv"
    link.symlink_to(venv)
    os.chmod(tmp_path, 0o755)
    probe = subprocess.run([str(link / "bin" / "python"), "-c", "import sys; print(sys.prefix)"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == str(link)  # the premise: the interpreter knows its venv by the link
    out = tmp_path / "results.json"
    solutions = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    proc = subprocess.run([str(link / "bin" / "python"), "-m", "autograder", "grade", str(solutions), "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = read_results(out)
    assert data["score"] == FULL, [t["output"][:200] for t in data["tests"] if t["status"] != "passed"]
    assert not [n for n in data["extra_data"]["notes"] if n["kind"] != "info"], data["extra_data"]["notes"]


def test_a_worker_gets_a_minimal_environment_not_the_graders(monkeypatch):
    """A secret in the grader's environment never reaches student code (it could end up in feedback)."""
    from autograder.worker.client import Worker
    from autograder.worker.zygote import Zygote
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "CANARY-not-for-students")
    with Zygote(mode=sandbox.detect()) as zygote:
        with Worker(zygote, ["import os\nprint('ENV', sorted(os.environ.items()))"], ASSIGNMENT, LIMITS,
                    course_config.PROTOCOL_MODULES[ASSIGNMENT]) as w:
            w.start()
    text = w.output.text()
    assert "ENV" in text and "CANARY" not in text and "AWS_SECRET_ACCESS_KEY" not in text


def test_a_killed_graders_staging_folder_is_swept(tmp_path):
    from autograder.worker import zygote
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = Path(tempfile.gettempdir()) / f"{zygote.STAGING_PREFIX}{dead.pid}-leftover"
    left.mkdir()
    mine = Path(tempfile.gettempdir()) / f"{zygote.STAGING_PREFIX}{os.getpid()}-alive"
    mine.mkdir()
    try:
        zygote.sweep_staging()
        assert not left.exists() and mine.exists()  # a live grader's folder stays
    finally:
        shutil.rmtree(left, ignore_errors=True)
        shutil.rmtree(mine, ignore_errors=True)
