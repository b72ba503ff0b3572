"""The zygote: a pre-warmed process that forks one sandboxed worker per request.

It is a fresh interpreter (``python -m autograder.worker.zygote``), not a fork of the grader: forking a process that
has already run a TensorFlow op can deadlock TF's thread pools in the child, and a fresh interpreter holds
none of the grader's state (no reference value, no check result). It imports TensorFlow, TFP and Keras
once, runs no op, and then only forks. A fork costs about 0.1 s against 5-6 s for the imports.

A batch's grading slots share one such interpreter, the *mother* (``Mother``): it imports once, and forks one
zygote per slot that asks (``Zygote(factory=...)``), so a batch pays for the imports once, whatever its number of
slots, and the slots' zygotes share its pages. A slot asks by sending one end of a fresh socket pair over the
mother's request socket (SCM_RIGHTS); that socket is handed to the slots when they start, never to a worker, so
no submission can ask the mother for anything.

Each forked child becomes the worker's keeper (``sandbox.keeper``), which forks the worker into its sandbox
(``autograder.worker.sandbox``) before it reads a line of student code; the worker then runs
``autograder.worker.child``. To end a worker the grader asks its keeper to stop (``sandbox.stop``); the keeper
exits only once nothing of the submission runs, and the zygote reaps it and removes what the sandbox left (its
cgroups; in the uid fallback, its work directory).
"""
import contextlib
import gc
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path

from autograder.worker import child, sandbox


#: A zygote's staging folder (support files, the uid fallback's workdirs) is ``<tmp>/<STAGING_PREFIX><grader pid>-*``.
STAGING_PREFIX = "nf-grader-support-"


def sweep_staging():
    """Remove the staging folders of graders that are gone (killed before their zygote could clean up)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{STAGING_PREFIX}*-*"):
        try:
            pid = int(folder.name[len(STAGING_PREFIX):].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, OSError):
            continue


#: A Ctrl-C reaches the whole process group. The grader decides what stops; its helper processes ignore both.
STOPS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def stops_held():
    """Start helper processes inside this block. SIGINT and SIGTERM are blocked here, and a process started here
    inherits the block, so a Ctrl-C that lands while it is still importing stays pending instead of raising
    KeyboardInterrupt in it (a traceback on the instructor's terminal). The helper ignores both, then calls
    ``ignore_stops``; a stop held here meanwhile reaches the grader's handler when the block ends."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def ignore_stops():
    """In a helper process started under ``stops_held``: ignore SIGINT and SIGTERM, and drop any held."""
    for s in STOPS:
        signal.signal(s, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)


class Zygote:
    """The grader's handle on one zygote process. Use as a context manager.

    ``mode`` is the sandbox mode (``sandbox.detect()`` when not given). The assignments' support files
    (protocol module and its modules, shared checks, figures) are copied into a grader-owned read-only staging directory
    here, once per zygote, so no worker ever sees the repo they came from.
    """

    def __init__(self, preload=True, mode=None, factory=None):
        import course_config
        self.mode = mode or sandbox.detect()
        self.repo = course_config.ROOT
        sweep_staging()
        self.staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-"))
        os.chmod(self.staging, 0o755)
        for assignment in course_config.ASSIGNMENTS:
            _stage(course_config.ROOT / course_config.SOURCE_DIR / assignment, self.staging / assignment)
        if self.mode == "container":  # a throw-away container: its grader's files are closed to other users
            sandbox.container.lock([sandbox.container.folder(), self.repo],
                                   keep=[*sandbox.readable_roots(self.repo), self.staging])
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        if factory is not None:  # forked by the batch's mother (``Mother``): no interpreter of our own
            socket.send_fds(factory, [b"zygote"], [theirs.fileno()])
            self.process = self.pid = None
        else:
            self.process = _start(theirs, "1" if preload else "0")
            self.pid = self.process.pid
        theirs.close()
        self.sock = ours

    def support(self, assignment):
        return self.staging / assignment if assignment else None

    def alive(self):
        """Whether the zygote still answers: its process runs (or, forked by the mother, its socket is open)."""
        if self.process is not None:
            return self.process.poll() is None
        try:
            return self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def _call(self, command, nfds=0):
        self.sock.send(json.dumps(command).encode())
        data, fds, _, _ = socket.recv_fds(self.sock, 4096, nfds)
        if not data:
            raise RuntimeError("the grader's zygote process died; rerun the grader")
        return json.loads(data), fds

    def spawn(self, assignment, limits):
        """Fork a new sandboxed worker; return (pid of its keeper, socket to it, read end of its output pipe)."""
        plan = sandbox.Plan(self.mode, self.support(assignment), limits, self.repo, self.staging / "work")
        reply, fds = self._call({"op": "spawn", "plan": plan.to_json()}, nfds=2)
        return reply["pid"], socket.socket(fileno=fds[0]), fds[1]

    def wait(self, pid):
        """Reap a worker that has ended or been killed, and clear its sandbox; return its wait status."""
        return self._call({"op": "wait", "pid": pid})[0]["status"]

    def close(self):
        if self.process is None:  # the mother's child: it closes its end once it has cleaned up
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(30)
            try:
                while self.sock.recv(65536):
                    pass
            except OSError:
                pass
        self.sock.close()  # the zygote's loop ends when its socket closes
        if self.process is not None:
            _end(self.process, 30)
        for _ in range(50):  # a worker's last write may race the removal: try again until the folder is gone
            shutil.rmtree(self.staging, ignore_errors=True)
            if not self.staging.exists():
                break
            time.sleep(0.1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _start(sock, *args):
    """``python -m autograder.worker.zygote FD ARGS...`` on ``sock``, started with the stops held."""
    import subprocess
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "MPLBACKEND": "Agg"}
    with stops_held():
        return subprocess.Popen([sys.executable, "-m", "autograder.worker.zygote", str(sock.fileno()), *args],
                                pass_fds=[sock.fileno()], env=env, stdin=subprocess.DEVNULL)


def _end(process, seconds):
    """Wait ``seconds`` for ``process`` to end by itself, then kill it."""
    try:
        process.wait(timeout=seconds)
    except Exception:  # noqa: BLE001
        process.kill()
        process.wait()


class Mother:
    """The one pre-warmed interpreter a batch's slots share (``python -m autograder.worker.zygote FD 1 mother``).
    ``requests`` is the socket a slot gives ``Zygote(factory=...)``; pass it to the slots when they start.
    ``close`` waits until every zygote it forked has cleaned up after its workers."""

    def __init__(self):
        self.requests, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = _start(theirs, "1", "mother")
        theirs.close()

    def close(self, seconds=30):
        self.requests.close()  # with every slot's copy closed too, the mother waits for its zygotes and ends
        _end(self.process, seconds)


def _stage(source, target):
    """Copy an assignment's support files (not its notebooks) as plain files, readable by any worker."""
    target.mkdir(mode=0o755)
    for item in sorted(source.iterdir()):
        if item.suffix == ".ipynb" or item.name.startswith(".") or item.name == "__pycache__":
            continue
        if item.is_dir():
            shutil.copytree(item, target / item.name, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        else:
            shutil.copyfile(item, target / item.name)  # follows the links to the shared checks_*.py
    for path in [target, *target.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


_STDLIB_SKIP = {"antigravity", "this", "idlelib", "turtledemo", "tkinter", "turtle", "test", "lib2to3",
                "ensurepip", "venv", "pydoc_data"}


def _preload_stdlib():
    """Import the standard library (top level and one level of submodules), about 0.3 s.

    In the uid fallback a worker may not be able to read the interpreter's own files (seen here: pyenv under
    /root, mode 700), so a student's ``import statistics`` would fail there. Modules already imported in the
    zygote are simply there in every worker.
    """
    import contextlib
    import importlib
    import io
    import pkgutil
    import warnings

    def load(name):
        try:
            return importlib.import_module(name)
        except BaseException:  # noqa: BLE001 (platform-specific modules, optional C extensions)
            return None

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        for name in sorted(sys.stdlib_module_names - _STDLIB_SKIP):
            if name.startswith("_"):
                continue
            module = load(name)
            for info in pkgutil.iter_modules(getattr(module, "__path__", []) or [], name + "."):
                if not info.name.rsplit(".", 1)[-1].startswith(("_", "test")):
                    load(info.name)


def _warm_up(preload):
    sandbox.die_with_parent()  # a grader killed with SIGKILL takes its zygote, and so its workers, along
    # A Ctrl-C reaches the whole process group: the grader decides what stops, and ends the zygote by closing
    # its socket (or by dying). Its workers inherit this, so a Ctrl-C never turns into a verdict on a student.
    ignore_stops()
    sandbox.sweep_stale_cgroups()  # left by a zygote that was killed before it could clean up
    sandbox.seccomp.available()  # loads libseccomp here, once, instead of in every worker
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MPLBACKEND", "Agg")
    if preload:  # import, but never run a TF op here: forking after an op is unsafe
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import matplotlib.pyplot  # noqa: F401
            import sklearn.datasets  # noqa: F401
            import tensorflow  # noqa: F401
            import tensorflow_probability  # noqa: F401
            import tf_keras  # noqa: F401
        _preload_stdlib()
    # Out of the collector's reach: a worker's collections never walk (and so never copy the pages of) the
    # half-million objects it shares with us. 26,000 fewer page copies, 0.3 s less per worker (benchmarks.md).
    gc.collect()
    gc.freeze()


def mother(requests):
    """Fork a zygote for each socket a slot sends; when every slot's copy of ``requests`` is closed, wait for
    them (each cleans up after its workers once its slot has gone) and end."""
    children = set()
    requests.settimeout(1.0)
    while True:
        for pid in list(children):  # reap the zygotes whose slots have gone
            if os.waitpid(pid, os.WNOHANG)[0]:
                children.discard(pid)
        try:
            message, fds, _, _ = socket.recv_fds(requests, 64, 1)
        except TimeoutError:
            continue
        if not message:
            break
        for fd in fds[1:]:
            os.close(fd)
        if not fds:
            continue
        parent = os.getpid()
        try:
            pid = os.fork()
        except OSError as e:  # no zygote for this slot (it sees its socket close), the others go on
            sys.stderr.write(f"grader: could not fork a zygote for a grading slot: {e}\n")
            os.close(fds[0])
            continue
        if pid == 0:
            status = 70
            try:
                requests.close()
                serve(socket.socket(fileno=fds[0]), parent)
                status = 0
            except BaseException:  # noqa: BLE001 (said on the grader's stderr, never silent)
                traceback.print_exc()
            finally:
                os._exit(status)
        os.close(fds[0])
        children.add(pid)
    for pid in children:
        os.waitpid(pid, 0)


def serve(sock, parent=None):
    """Be one grader's zygote: fork its workers until its socket closes, then end and clean up after them.
    ``parent``: the mother's pid, when forked by her (ends at once if she died before the parent-death signal
    was set)."""
    sandbox.die_with_parent()
    if parent is not None and os.getppid() != parent:
        return
    plans = {}  # pid -> the plan its sandbox was built from, for the clean-up after it
    busy = {}  # reaped workers whose clean-up must be tried again
    try:
        _serve(sock, plans, busy)
    except (BrokenPipeError, ConnectionResetError):  # the grader left while we answered (it was interrupted)
        pass
    # the grader is gone: end what it left running, then clean up after everything
    for pid in plans:
        sandbox.stop(pid)
    for pid, plan in {**busy, **plans}.items():
        if pid in plans:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        sandbox.cleanup(pid, plan, seconds=20)
    sock.close()  # a grader waiting in ``Zygote.close`` knows that everything is cleaned up


def main(sock, preload, role="zygote"):
    _warm_up(preload)
    if role == "mother":
        mother(sock)
    else:
        serve(sock)
    # All is cleaned up: skip the interpreter's shutdown (1.8 s with TensorFlow loaded, waited for by the grader)
    sys.stdout.flush(), sys.stderr.flush()
    os._exit(0)


def _serve(sock, plans, busy):
    """Answer the grader's commands until it closes its socket."""
    while True:
        data = sock.recv(65536)
        if not data:
            return
        command = json.loads(data)
        if command["op"] == "spawn":
            plan = sandbox.Plan.from_json(command["plan"])
            ours, theirs = socket.socketpair()
            out_r, out_w = os.pipe()
            sandbox.keeper.block_stop()  # until the keeper can act on a stop, the stop waits for it
            pid = os.fork()
            if pid == 0:
                status = 70
                try:
                    sandbox.die_with_parent()
                    sock.close()
                    ours.close()
                    os.close(out_r)
                    sandbox.contain(plan, {theirs.fileno(), out_w},
                                    lambda: child.main(theirs, out_w, plan.support_inside, plan.limits))
                except BaseException as e:  # noqa: BLE001 (the sandbox could not be built: say why)
                    try:
                        os.write(out_w, f"\n[grader] the sandbox could not be set up: {e}\n".encode())
                        traceback.print_exc()  # for the instructor: the grader's own stderr
                    except OSError:
                        pass
                finally:
                    os._exit(status)
            sandbox.keeper.unblock_stop()
            plans[pid] = plan
            theirs.close()
            os.close(out_w)
            socket.send_fds(sock, [json.dumps({"pid": pid}).encode()], [ours.fileno(), out_r])
            ours.close()
            os.close(out_r)
        elif command["op"] == "wait":
            try:
                _, status = os.waitpid(command["pid"], 0)
            except ChildProcessError:
                status = None
            if command["pid"] in plans:
                busy[command["pid"]] = plans.pop(command["pid"])
            for pid in list(busy):
                if sandbox.cleanup(pid, busy[pid], seconds=2.0 if pid == command["pid"] else 0):
                    del busy[pid]
            sock.send(json.dumps({"status": status}).encode())


if __name__ == "__main__":  # python -m autograder.worker.zygote FD PRELOAD [mother]
    main(socket.socket(fileno=int(sys.argv[1])), sys.argv[2] == "1", *sys.argv[3:4])
