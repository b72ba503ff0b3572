"""The worker: a child process that runs one submission's code and answers narrow questions about it.

The grader process imports TensorFlow once and then forks a worker per submission (a fork costs about
0.1 s; an import 5-6 s). The child:

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
import os
import pwd
import resource
import select
import shutil
import signal
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


class Worker:
    """A forked child holding one submission's objects. Use as a context manager."""

    def __init__(self, sources, support_dir, limits, deadline=None):
        self.sources = list(sources)
        self.support_dir = Path(support_dir) if support_dir else None
        self.limits = limits
        self.deadline = deadline or (time.monotonic() + limits["submission_seconds"])
        self.output = BoundedOutput(limits["output_bytes"])
        self.pid = None
        self.cell_errors = []
        self.deaths = []
        self.startup_failure = None
        self._buf = b""

    # ---- lifecycle ----------------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def remaining(self):
        return self.deadline - time.monotonic()

    def start(self):
        """Fork a worker, run the submission's cells in it, and wait until it is ready."""
        if self.startup_failure is not None:
            raise self.startup_failure
        if self.remaining() <= 0:
            raise WorkerDied("the time cap for this submission was reached before this check could run")
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        out_r, out_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # child
            status = 0
            try:
                os.close(req_w)
                os.close(rep_r)
                os.close(out_r)
                _child_main(req_r, rep_w, out_w, self.sources, self.support_dir, self.limits)
            except BaseException:  # noqa: BLE001
                status = 70
            finally:
                os._exit(status)
        os.close(req_r)
        os.close(rep_w)
        os.close(out_w)
        self.pid, self._req, self._rep, self._buf = pid, req_w, rep_r, b""
        self._drain = threading.Thread(target=_drain, args=(out_r, self.output), daemon=True)
        self._drain.start()
        timeout = min(self.limits["startup_seconds"], self.remaining())
        try:
            ready = self._receive(timeout, "while running your notebook's cells")
        except WorkerDied as e:
            self.startup_failure = e  # running the same cells again would fail the same way
            raise
        self.cell_errors = ready.get("cell_errors", [])

    def stop(self):
        if self.pid is None:
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._reap()

    def _reap(self, block=True):
        status = None
        if self.pid is not None:
            try:
                _, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                status = None
            for fd in (self._req, self._rep):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.pid = None
            self._drain.join(timeout=2)
        return status

    def _die(self, reason):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        status = self._reap()
        if reason is None:
            reason = _describe_status(status, self.limits) if status is not None else "it stopped"
        message = f"the worker running your code stopped: {reason}."
        self.deaths.append(message)
        raise WorkerDied(message)

    # ---- messages ------------------------------------------------------------------------------
    def _receive(self, timeout, doing):
        end = time.monotonic() + max(timeout, 0)
        while b"\n" not in self._buf:
            left = end - time.monotonic()
            if left <= 0:
                cap = "the per-submission time cap" if self.remaining() <= 0 else f"the {timeout:.0f} s limit"
                self._die(f"it ran past {cap} {doing} (an infinite loop, or very slow code?)")
            ready, _, _ = select.select([self._rep], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._rep, 1 << 20)
            if not chunk:
                self._die(None)
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return wire.loads(line)

    def ask(self, request):
        """Send one request; return the answer. Raises QuestionError-like ``AnswerError`` or WorkerDied."""
        if self.pid is None:
            self.start()
        try:
            os.write(self._req, wire.dumps(request))
        except (BrokenPipeError, OSError):
            self._die(None)
        timeout = min(self.limits["check_seconds"], self.remaining())
        reply = self._receive(timeout, "while answering a check")
        if "error" in reply:
            raise AnswerError(reply["error"])
        return reply["value"]


class AnswerError(Exception):
    """The worker could not answer (the student's code raised, or an object is missing)."""


# ------------------------------------------------------------------------------------------------
# The child side
# ------------------------------------------------------------------------------------------------
def _write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _readline(fd, buf):
    while b"\n" not in buf:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return None, buf
        buf += chunk
    line, buf = buf.split(b"\n", 1)
    return line, buf


def _drop_privileges(workdir):
    if os.geteuid() != 0:
        return
    nobody = pwd.getpwnam("nobody")
    for path in [workdir, *workdir.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)


def _child_main(req_r, rep_w, out_w, sources, support_dir, limits):
    from autograder import execute  # bound before the grader's modules are scrubbed below

    run_cells = execute.run_cells
    os.setpgid(0, 0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    os.close(out_w)

    workdir = Path(tempfile.mkdtemp(prefix="nf-worker-"))
    if support_dir is not None:
        for item in support_dir.iterdir():
            if item.suffix == ".ipynb" or item.name.startswith("."):
                continue
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, workdir / item.name)
    os.chdir(workdir)
    os.environ.update({"HOME": str(workdir), "MPLCONFIGDIR": str(workdir), "MPLBACKEND": "Agg",
                       "TMPDIR": str(workdir)})
    _drop_privileges(workdir)

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_DATA, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing us

    # The grader's code and files are not the student's business.
    repo = str(Path(__file__).resolve().parent.parent)
    for name in [m for m in sys.modules if m == "autograder" or m.startswith("autograder.")
                 or m in ("course_config", "nf_checks")]:
        del sys.modules[name]
    sys.path[:] = [str(workdir)] + [p for p in sys.path if p and os.path.abspath(p) != repo]

    import importlib
    protocol = importlib.import_module("nf_checks")
    answer, quiet = protocol.answer, protocol.quiet

    namespace = {"__name__": "__main__"}
    errors = run_cells(sources, namespace, capture=False)
    sys.stdout.flush()
    _write_all(rep_w, wire.dumps({"ready": True, "cell_errors": errors}))

    buf = b""
    while True:
        line, buf = _readline(req_r, buf)
        if line is None:
            return
        request = wire.loads(line)
        try:
            with quiet():
                value = answer(namespace, request)
            reply = {"value": value}
        except protocol.QuestionError as e:
            reply = {"error": str(e)}
        except BaseException as e:  # noqa: BLE001 (the student's code raised, even SystemExit)
            reply = {"error": f"your code raised {type(e).__name__}: {e}"}
        try:
            data = wire.dumps(reply)
        except TypeError as e:
            data = wire.dumps({"error": f"the answer could not be sent back ({e})"})
        sys.stdout.flush()
        sys.stderr.flush()
        _write_all(rep_w, data)

