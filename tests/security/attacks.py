"""The attacks of tests/security/test_sandbox.py and the batch they are graded in: each attacker is the untouched
release plus one cell that tries to break out (read another submission or the solutions, reach the network, leave
a process or a file behind, exhaust memory, processes or output), and the victims are a complete submission
and one with a known mistake, graded in the same batch."""
import os
import re
import socket
import threading
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

import course_config
from autograder import course
from autograder.authoring import examples


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
                   ('setns', (-1, 0)), ('kexec_load', (0, 0, 0, 0)), ('kexec_file_load', (-1, -1, 0, 0, 0)),
                   ('pidfd_getfd', (-1, 0, 0))]:
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


def with_cell(nb, source):
    nb = nbformat.from_dict(nb)
    nb.cells.append(new_code_cell(source))
    return nb


def host_ip():
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
    fill = dict(win=WIN, port=port, host_ip=host_ip(), batch=str(submitted), assignment=ASSIGNMENT,
                host_net=os.readlink("/proc/self/ns/net"),
                solutions=str(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                reference=str(ROOT / "autograder" / "reference" / f"{ASSIGNMENT}.json"))
    attacks = {"a_daemon": DAEMON, "a_steal": STEAL, "a_network": NETWORK, "a_fork_bomb": FORK_BOMB,
               "a_fill_scratch": FILL, "a_immortal": IMMORTAL.replace("{hold}", "0"), "a_syscalls": SYSCALLS}
    expected = {}
    for name, code in attacks.items():
        examples.write_submission(submitted, name, with_cell(rel, code.format(**fill)))
        expected[name] = 0
    # The flood is built on the solutions: the cell that floods the grader's socket is skipped, the rest counts.
    examples.write_submission(submitted, "a_socket_flood", with_cell(sol, FLOOD))
    expected["a_socket_flood"] = FULL
    examples.write_submission(submitted, "z_victim_full", sol)
    expected["z_victim_full"] = FULL
    examples.write_submission(submitted, "z_victim_mistake", examples.apply(sol, EXP_SIGN))
    expected["z_victim_mistake"] = FULL - sum(POINTS[t] for t in EXP_SIGN.failing)
    return submitted, expected
