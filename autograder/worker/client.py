"""The grader's side of one worker: start it through the zygote, ask it questions, kill it, read its output.

If the worker dies or overruns a timeout, ``ask`` raises ``WorkerDied`` with the reason, and the next ``ask``
starts a fresh worker (running the cells again), so one item's crash costs no other item its points.
"""
import os
import secrets
import select
import signal
import threading
import time

from autograder.worker import sandbox, wire


class WorkerDied(Exception):
    """The worker process ended or was killed; the message says why, for the student."""


class AnswerError(Exception):
    """The worker could not answer (the student's code raised, or an object is missing)."""


class BoundedOutput:
    """Keeps the first ``limit`` bytes the worker prints while its cells run, and counts the rest.

    Everything after ``end_marker`` (printed by the worker once its cells are done) is dropped: that is
    output written while the checks ran.
    """

    def __init__(self, limit):
        self.limit, self.data, self.total = limit, bytearray(), 0
        self.end_marker, self._pending, self._closed = None, b"", False

    def expect(self, marker):
        """A new worker starts: accept its cells' output until ``marker``."""
        self.end_marker, self._pending, self._closed = marker.encode(), b"", False

    def _take(self, chunk):
        self.total += len(chunk)
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def feed(self, chunk):
        if self._closed:
            return
        if self.end_marker is None:
            return self._take(chunk)
        pending = self._pending + chunk
        at = pending.find(self.end_marker)
        if at >= 0:
            self._closed, self._pending = True, b""
            return self._take(pending[:at])
        keep = len(self.end_marker) - 1  # a marker may be split across two reads: hold back its length
        self._take(pending[:max(len(pending) - keep, 0)])
        self._pending = pending[max(len(pending) - keep, 0):]

    def text(self):
        if not self._closed and self._pending:  # the worker ended before its marker: keep what it printed
            self._take(self._pending)
            self._pending = b""
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


def describe_status(status, limits):
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
    """One submission's worker. ``ask`` (re)starts it on demand. Use as a context manager."""

    def __init__(self, zygote, sources, assignment, limits, protocol, deadline=None):
        """``protocol``: the name of the assignment's protocol module, a support file of ``assignment``."""
        self.zygote, self.assignment = zygote, assignment
        self.setup = {"sources": list(sources), "protocol": protocol}
        self.limits = limits
        self.deadline = deadline or (time.monotonic() + limits["submission_seconds"])
        self.output = BoundedOutput(limits["output_bytes"])
        self.pid = None
        self.cell_errors = []
        self.deaths = []
        self.startup_failure = None
        self.skipped = set()
        self.skips = []  # (index of the source in ``sources``, why it was skipped)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def remaining(self):
        return self.deadline - time.monotonic()

    def start(self):
        """Fork a sandboxed worker, run the submission's cells in it, and wait until it is ready."""
        if self.startup_failure is not None:
            raise self.startup_failure  # running the same cells again would fail the same way
        if self.remaining() <= 0:
            raise WorkerDied("the time cap for this submission was reached before this check could run")
        self.pid, self.sock, out_r = self.zygote.spawn(self.assignment, self.limits)
        self._lines = wire.LineBuffer(self.limits["message_bytes"])
        marker = f"--- end of cell output {secrets.token_hex(16)} ---"
        self.output.expect(marker)
        self._drain = threading.Thread(target=_drain, args=(out_r, self.output), daemon=True)
        self._drain.start()
        self.current_cell = None
        try:
            self.sock.sendall(wire.dumps({**self.setup, "skip": sorted(self.skipped), "end_marker": marker}))
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
                self.skips.append((self.current_cell, str(e)))
                return self.start()
            self.startup_failure = e
            raise
        self.cell_errors = message.get("cell_errors", [])

    def _kill(self):
        sandbox.stop(self.pid)

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
            reason = describe_status(status, self.limits) if status is not None else "it stopped"
        message = f"the worker running your code stopped: {reason}"
        self.deaths.append(message)
        raise WorkerDied(message)

    def _receive(self, timeout, doing):
        end = time.monotonic() + max(timeout, 0)
        while True:
            try:
                line = self._lines.line()
            except wire.LineTooLong as e:
                self._die(f"it sent {e} to the grader {doing}")
            if line is not None:
                try:
                    return wire.loads(line)
                except ValueError:  # not JSON, or an array that is not an answer (wire._array)
                    self._die("it wrote something that is not an answer to the grader's channel")
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
            self._lines.feed(chunk)

    def ask(self, request):
        """Send one request and return the answer; raises AnswerError or WorkerDied."""
        if self.pid is None:
            self.start()
        try:
            self.sock.sendall(wire.dumps(request))
        except OSError:
            self._die(None)
        try:
            reply = self._receive(min(self.limits["check_seconds"], self.remaining()), "while answering a check")
        except ValueError:  # not JSON: the student's code wrote to the grader's socket
            self._die("it wrote something that is not an answer to the grader's channel")
        if not isinstance(reply, dict) or not ({"error", "value"} & set(reply)):
            self._die("it wrote something that is not an answer to the grader's channel")
        if "error" in reply:
            raise AnswerError(str(reply["error"]))
        return reply["value"]
