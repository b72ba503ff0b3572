"""The worker: a child process that runs one submission's code and answers narrow questions about it.

Workers are forked by a *zygote*: a process forked from the grader at start-up, before the grader has
loaded any reference value, that imports TensorFlow, TFP and Keras once and then only forks. A fork
costs about 0.1 s against 5-6 s for the imports, and a worker inherits nothing of the grader's state:
no reference values, no check results. The worker:

1. moves into its own process group, so everything it spawns can be killed with it;
2. takes its limits (data-segment memory cap, file-size cap, no core dumps) and drops to ``nobody``
   when the grader runs as root;
3. works in a fresh temporary directory holding only the assignment's support files, with the grader's
   modules removed from ``sys.modules`` and the repo removed from ``sys.path``;
4. runs the submission's code cells with Jupyter semantics, then answers requests from the grader, one
   JSON line each (``autograder.wire``). It never sees a reference value and never computes a verdict.

Everything the child prints goes through a pipe that the grader drains into a bounded buffer. If the child
dies or overruns a timeout, ``ask`` raises ``WorkerDied`` with the reason, and the next ``ask`` starts a
fresh worker (running the cells again), so one item's crash costs no other item its points.
"""
import json
import os
import pwd
import resource
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from autograder import wire


class WorkerDied(Exception):
    """The worker process ended or was killed; the message says why, for the student."""


class BoundedOutput:
    """Keeps the first ``limit`` bytes written by the worker and counts the rest."""

    def __init__(self, limit):
        self.limit, self.data, self.total = limit, bytearray(), 0

    def feed(self, chunk):
        self.total += len(chunk)
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def text(self):
        out = self.data.decode("utf-8", "replace")
        if self.total > self.limit:
            out += f"\n[... output truncated: {self.total - self.limit} more bytes]"
        return out


def _drain(fd, sink):
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        sink.feed(chunk)
    os.close(fd)


def _describe_status(status, limits):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGKILL:
            return (f"it was killed (SIGKILL); the usual cause is memory use beyond the "
                    f"{limits['memory_bytes'] // 2**20} MiB cap")
        if sig == signal.SIGSEGV:
            return "it crashed (segmentation fault), often after running out of memory"
        return f"it was ended by signal {name}"
    if os.WIFEXITED(status):
        return f"it exited with code {os.WEXITSTATUS(status)} (os._exit or a fatal error in your code)"
    return "it stopped"


def protect(paths):
    """Where the grader runs as root (workers run as ``nobody``), make ``paths`` unreachable for others.

    Removes the "other" permission bits, so ``nobody`` can neither list nor traverse them: the grader's
    sources and reference values, the source notebook and solutions, git history, the other students'
    submissions and results. Returns the paths changed. Without root, the workers run as the grader's own
    user and this cannot help (see the README's security section).
    """
    if os.geteuid() != 0:
        return []
    # Never lock the worker out of what it needs: the venv, the temp dir, or anything above them.
    needed = [Path(sys.prefix).resolve(), Path(tempfile.gettempdir()).resolve()]
    changed = []
    for path in (Path(p).resolve() for p in paths):
        if any(path == n or path in n.parents for n in needed):
            continue
        if path.exists():
            mode = path.stat().st_mode & 0o7777
            if mode & 0o007:
                os.chmod(path, mode & ~0o007)
                changed.append(path)
    return changed


def grader_paths():
    """What a worker must never read, in the course repo."""
    import course_config
    root = course_config.ROOT
    return [root / name for name in ("autograder", "solutions", "source", "tests", ".git", "build",
                                     course_config.SUBMITTED_DIR, course_config.AUTOGRADED_DIR,
                                     course_config.FEEDBACK_DIR, "gradebook.db")]


class AnswerError(Exception):
    """The worker could not answer (the student's code raised, or an object is missing)."""


# ------------------------------------------------------------------------------------------------
# The zygote
# ------------------------------------------------------------------------------------------------
class Zygote:
    """A pre-warmed process that forks workers.

    It is a fresh interpreter (``python -m autograder.worker``), not a fork of the grader: forking a
    process that has already run a TensorFlow op can deadlock TF's thread pools in the child, and a fresh
    interpreter also holds none of the grader's state. It imports TensorFlow once, runs no op, and forks.
    """

    def __init__(self, preload=True):
        import subprocess
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "MPLBACKEND": "Agg"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.worker", str(theirs.fileno()), "1" if preload else "0"],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        self.sock, self.pid = ours, self.process.pid

    def _call(self, command, nfds=0):
        self.sock.send(json.dumps(command).encode())
        data, fds, _, _ = socket.recv_fds(self.sock, 4096, nfds)
        if not data:
            raise RuntimeError("the grader's zygote process died; rerun the grader")
        return json.loads(data), fds

    def spawn(self):
        """Fork a new worker; return (pid, socket to it, read end of its output pipe)."""
        reply, fds = self._call({"op": "spawn"}, nfds=2)
        return reply["pid"], socket.socket(fileno=fds[0]), fds[1]

    def wait(self, pid):
        """Reap a worker that has ended or been killed; return its wait status."""
        return self._call({"op": "wait", "pid": pid})[0]["status"]

    def close(self):
        self.sock.close()  # the zygote's loop ends when its socket closes
        try:
            self.process.wait(timeout=30)
        except Exception:  # noqa: BLE001
            self.process.kill()
            self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_STDLIB_SKIP = {"antigravity", "this", "idlelib", "turtledemo", "tkinter", "turtle", "test", "lib2to3",
                "ensurepip", "venv", "pydoc_data"}


def _preload_stdlib():
    """Import the standard library (top level and one level of submodules), about 0.3 s.

    A worker that runs as ``nobody`` may not be able to read the interpreter's own files (seen here: pyenv
    under /root, mode 700), so a student's ``import statistics`` would fail there. Modules already imported
    in the zygote are simply there in every worker.
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


def _zygote_main(sock, preload):
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
    while True:
        data = sock.recv(4096)
        if not data:
            return
        command = json.loads(data)
        if command["op"] == "spawn":
            ours, theirs = socket.socketpair()
            out_r, out_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                status = 0
                try:
                    sock.close()
                    ours.close()
                    os.close(out_r)
                    _worker_main(theirs, out_w)
                except BaseException:  # noqa: BLE001
                    status = 70
                finally:
                    os._exit(status)
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
            sock.send(json.dumps({"status": status}).encode())


# ------------------------------------------------------------------------------------------------
# The grader's handle on one worker
# ------------------------------------------------------------------------------------------------
class Worker:
    """One submission's worker. ``ask`` (re)starts it on demand. Use as a context manager."""

    def __init__(self, zygote, sources, support_dir, limits, protocol, deadline=None):
        """``protocol``: the name of the assignment's protocol module, a file in ``support_dir``."""
        self.zygote = zygote
        self.setup = {"sources": list(sources), "support_dir": str(support_dir) if support_dir else None,
                      "limits": limits, "protocol": protocol}
        self.limits = limits
        self.deadline = deadline or (time.monotonic() + limits["submission_seconds"])
        self.output = BoundedOutput(limits["output_bytes"])
        self.pid = None
        self.cell_errors = []
        self.deaths = []
        self.startup_failure = None
        self.skipped, self.skip_notes = set(), []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def remaining(self):
        return self.deadline - time.monotonic()

    def start(self):
        """Fork a worker, run the submission's cells in it, and wait until it is ready."""
        if self.startup_failure is not None:
            raise self.startup_failure  # running the same cells again would fail the same way
        if self.remaining() <= 0:
            raise WorkerDied("the time cap for this submission was reached before this check could run")
        self.pid, self.sock, out_r = self.zygote.spawn()
        self._buf = b""
        self._drain = threading.Thread(target=_drain, args=(out_r, self.output), daemon=True)
        self._drain.start()
        self.current_cell = None
        try:
            self.sock.sendall(wire.dumps({**self.setup, "skip": sorted(self.skipped)}))
            while True:
                message = self._receive(min(self.limits["cell_seconds"], self.remaining()),
                                        "while running one of your notebook's cells")
                if "cell" not in message:
                    break
                self.current_cell = message["cell"]
        except WorkerDied as e:
            # Jupyter semantics: the cell that killed the worker is lost, the cells after it still run.
            if self.current_cell is not None and self.current_cell not in self.skipped \
                    and len(self.skipped) < self.limits["max_skipped_cells"]:
                self.skipped.add(self.current_cell)
                self.skip_notes.append(f"code cell {self.current_cell + 1} was skipped: while running it, {e}")
                return self.start()
            self.startup_failure = e
            raise
        self.cell_errors = message.get("cell_errors", [])

    def _kill(self):
        for kill in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
            try:
                kill()
            except (ProcessLookupError, PermissionError):
                pass

    def _reap(self):
        status = self.zygote.wait(self.pid)
        self.sock.close()
        self._drain.join(timeout=2)
        self.pid = None
        return status

    def stop(self):
        if self.pid is not None:
            self._kill()
            self._reap()

    def _die(self, reason):
        self._kill()
        status = self._reap()
        if reason is None:
            reason = _describe_status(status, self.limits) if status is not None else "it stopped"
        message = f"the worker running your code stopped: {reason}"
        self.deaths.append(message)
        raise WorkerDied(message)

    def _receive(self, timeout, doing):
        end = time.monotonic() + max(timeout, 0)
        while b"\n" not in self._buf:
            left = end - time.monotonic()
            if left <= 0:
                limit = "the time cap for this submission" if self.remaining() <= 0 else f"the {timeout:.0f} s limit"
                self._die(f"it ran past {limit} {doing} (an infinite loop, or very slow code?)")
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                continue
            try:
                chunk = self.sock.recv(1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                self._die(None)
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return wire.loads(line)

    def ask(self, request):
        """Send one request and return the answer; raises AnswerError or WorkerDied."""
        if self.pid is None:
            self.start()
        try:
            self.sock.sendall(wire.dumps(request))
        except OSError:
            self._die(None)
        reply = self._receive(min(self.limits["check_seconds"], self.remaining()), "while answering a check")
        if "error" in reply:
            raise AnswerError(reply["error"])
        return reply["value"]


# ------------------------------------------------------------------------------------------------
# The worker itself (runs in the zygote's child)
# ------------------------------------------------------------------------------------------------
def _drop_privileges(workdir):
    if os.geteuid() != 0:
        return
    nobody = pwd.getpwnam("nobody")
    for path in [workdir, *workdir.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)


class _LineReader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line


def _worker_main(sock, out_w):
    from autograder import execute  # bound before the grader's modules are scrubbed below

    run_cells = execute.run_cells
    os.setpgid(0, 0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    os.close(out_w)
    reader = _LineReader(sock)
    setup = wire.loads(reader.readline())
    limits = setup["limits"]

    workdir = Path(tempfile.mkdtemp(prefix="nf-worker-"))
    if setup["support_dir"]:
        for item in Path(setup["support_dir"]).iterdir():
            if item.suffix == ".ipynb" or item.name.startswith(".") or item.name == "__pycache__":
                continue
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, workdir / item.name)
    os.chdir(workdir)
    os.environ.update({"HOME": str(workdir), "MPLCONFIGDIR": str(workdir), "TMPDIR": str(workdir)})
    _drop_privileges(workdir)

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_DATA, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing us

    # The grader's code and files are not the student's business.
    repo = str(Path(__file__).resolve().parent.parent)
    for name in [m for m in sys.modules if m == "autograder" or m.startswith("autograder.")
                 or m in ("course_config", "checks_core", setup["protocol"])]:
        del sys.modules[name]
    sys.path[:] = [str(workdir)] + [p for p in sys.path if p and os.path.abspath(p) != repo]

    import importlib
    protocol = importlib.import_module(setup["protocol"])
    answer, quiet, question_error = protocol.answer, protocol.quiet, protocol.QuestionError
    error_message = protocol.student_error_message

    import logging
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # TF's own warnings are not the student's output
    namespace = {"__name__": "__main__"}
    skip = set(setup.get("skip", ()))
    sources = ["pass" if i in skip else src for i, src in enumerate(setup["sources"])]

    def progress(i):  # lets the grader time each cell, and know which one was running if we die
        sys.stdout.flush()
        sock.sendall(wire.dumps({"cell": i}))

    errors = run_cells(sources, namespace, capture=False, before_cell=progress)
    sys.stdout.flush()
    sock.sendall(wire.dumps({"ready": True, "cell_errors": errors}))

    while True:
        line = reader.readline()
        if line is None:
            return
        try:
            with quiet():
                reply = {"value": answer(namespace, wire.loads(line))}
        except question_error as e:
            reply = {"error": str(e)}
        except BaseException as e:  # noqa: BLE001 (the student's code raised, even SystemExit)
            reply = {"error": error_message(e)}
        try:
            data = wire.dumps(reply)
        except TypeError as e:
            data = wire.dumps({"error": f"the answer could not be sent back ({e})"})
        sys.stdout.flush()
        sys.stderr.flush()
        sock.sendall(data)


if __name__ == "__main__":  # the zygote: python -m autograder.worker FD PRELOAD
    _zygote_main(socket.socket(fileno=int(sys.argv[1])), sys.argv[2] == "1")
