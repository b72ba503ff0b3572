"""The grader's side of one worker: start it through the zygote, ask it questions, kill it, read its output.

If the worker dies or overruns a timeout, ``ask`` raises ``WorkerDied`` with the reason, and the next ``ask``
starts a fresh worker (running the cells again), so one item's crash costs no other item its points.
"""
import os
import select
import signal
import time

from autograder.text import capped
from autograder.worker import sandbox, wire

#: The most text (characters outside arrays) one reply to a check may hold. A line on the wire may be as long as
#: ``GRADING["message_bytes"]`` (16 MiB), for arrays: the solutions' largest reply is an array of 1.7 MB, their
#: largest without one a few kB. An error message past this is a protocol error, not an answer.
REPLY_TEXT_BYTES = 2**20


class WorkerDied(Exception):
    """The worker process ended or was killed; the message says why, for the student."""


class AnswerError(Exception):
    """The worker could not answer (the student's code raised, or an object is missing)."""


class BoundedOutput:
    """Keeps the first ``limit`` bytes a worker's cells print, and counts the rest.

    The grader reads the worker's stdout and stderr from a pipe, and decides on its own side where the cells'
    output ends: when the worker says it is ready, the grader takes what the pipe holds and closes this sink
    (``close``) before it sends the first check. Nothing inside the worker can move that point: whatever it
    writes after (about a check's inputs, say) is read and dropped.
    """

    def __init__(self, limit):
        self.limit, self.data, self.total, self.closed, self.frozen = limit, bytearray(), 0, True, False

    def open(self):
        """A new worker starts running the cells: keep what it prints (unless ``freeze`` came first)."""
        self.closed = self.frozen

    def freeze(self):
        """Keep nothing more, from any worker: the first hidden check has begun (``Worker.hold``)."""
        self.closed = self.frozen = True

    def close(self):
        self.closed = True

    def feed(self, chunk):
        if self.closed:
            return
        self.total += len(chunk)
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def text(self):
        out = self.data.decode("utf-8", "replace")
        if self.total > self.limit:
            out += f"\n[... output truncated: {self.total - self.limit} more bytes]"
        return out


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
        self.pid = self.out = None  # the worker's keeper, and the read end of its output pipe
        self.cell_errors = []
        self.deaths = []
        self.startup_failure = None
        self.skipped = set()
        self.skips = []  # (index of the source in ``sources``, why it was skipped)
        self.held = None  # (deaths, skips) there were when the first hidden check began (``hold``)

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
        self.pid, self.sock, self.out = self.zygote.spawn(self.assignment, self.limits)
        os.set_blocking(self.out, False)
        self._lines = wire.LineBuffer(self.limits["message_bytes"])
        self.output.open()
        self.current_cell = None
        try:
            self.sock.sendall(wire.dumps({**self.setup, "skip": sorted(self.skipped)}))
            while True:
                message = self._receive(min(self.limits["cell_seconds"], self.remaining()),
                                        "while running one of your notebook's cells")
                if "cell" not in message:
                    break
                self.current_cell = message["cell"]
            # The cells are done: their output is what the pipe holds now. No check has been sent yet.
            self._read_output()
            self.output.close()
        except WorkerDied as e:
            # Jupyter semantics: the cell that killed the worker is lost, the cells after it still run.
            if self.current_cell is not None and self.current_cell not in self.skipped \
                    and len(self.skipped) < self.limits["max_skipped_cells"]:
                self.skipped.add(self.current_cell)
                self.skips.append((self.current_cell, str(e)))
                return self.start()
            self.startup_failure = e
            raise
        if self.held is None:  # a worker started after the first hidden check reports nothing new (``hold``)
            self.cell_errors = message.get("cell_errors", [])

    def hold(self):
        """The first hidden check begins. While hidden results are held, what the student sees must not depend
        on a hidden verdict, and the worker sees which hidden requests come: from here on nothing it does (how it
        dies, what a fresh worker prints or which cells it skips) reaches what the student sees before the hidden
        results. The deaths and skips before this point stay visible (``grade.assemble``); the rest are held."""
        if self.held is None:
            self.held = (len(self.deaths), len(self.skips))
            self.output.freeze()

    def _kill(self):
        sandbox.stop(self.pid)

    def _reap(self):
        status = self.zygote.wait(self.pid)
        self.sock.close()
        self._read_output()  # what a worker that died during its cells printed before it died
        self.output.close()
        if self.out is not None:
            os.close(self.out)
        self.pid = self.out = None
        return status

    def _read_output(self):
        """Move what the output pipe holds into ``self.output`` (dropped there once it is closed)."""
        while self.out is not None:
            try:
                chunk = os.read(self.out, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                os.close(self.out)
                self.out = None
                return
            self.output.feed(chunk)

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
                except wire.TooDeep as e:  # a nesting bomb: refused before any parser recurses
                    self._die(f"it sent {e} to the grader {doing}")
                except ValueError:  # not JSON, or an array that is not an answer (wire._array)
                    self._die("it wrote something that is not an answer to the grader's channel")
            left = end - time.monotonic()
            if left <= 0:
                limit = "the time cap for this submission" if self.remaining() <= 0 else f"the {timeout:.0f} s limit"
                self._die(f"it ran past {limit} {doing} (an infinite loop, or very slow code?)")
            ready, _, _ = select.select([self.sock] + ([self.out] if self.out is not None else []), [], [], left)
            if self.out in ready:
                self._read_output()
            if self.sock not in ready:
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
        if wire.text_bytes(reply) > REPLY_TEXT_BYTES:
            self._die(f"it sent the grader an answer holding more than {REPLY_TEXT_BYTES // 2**10} KiB of text "
                      "(an error message that long?), while answering a check")
        if "error" in reply:
            raise AnswerError(capped(str(reply["error"])))
        return reply["value"]
