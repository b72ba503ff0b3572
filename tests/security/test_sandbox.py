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
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import read_results, run_batch

from autograder.authoring import examples

from autograder.worker import sandbox
from attacks import AS_ROOT, ASSIGNMENT, IMMORTAL, LIMITS, ROOT, Listener, build_batch, with_cell

#: The slow tier (pytest -m 'not slow' leaves it out): batches of attackers and victims in every containment (minutes).
pytestmark = pytest.mark.slow


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
        examples.write_submission(tmp / "in", "immortal", with_cell(examples.notebook("release"),
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
