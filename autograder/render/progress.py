"""A batch's progress on stderr, from its first second: the slots starting (each loads TensorFlow before it can
grade), then each submission as it starts and as it ends, with how many are left and about how long they will
take. On a terminal it is a ``rich`` bar; when stderr is a file or a pipe (CI logs, ``2> log``) it is one plain
line per event, never a carriage return or a redrawn line."""
import sys
import time

from autograder.text import shortened


class Progress:
    """``total`` submissions, ``done`` of them graded before this run started."""

    def __init__(self, total, done=0, stream=None):
        self.total, self.began, self.stream = total, time.monotonic(), stream or sys.stderr
        self.first_done, self.first_end, self.running = done, None, {}  # running: the labels in slots, in order
        self.live = self.stream.isatty()
        if self.live:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            self._bar = Bar(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("left"), TimeRemainingColumn(), TextColumn("{task.description}"),
                            console=Console(file=self.stream))
            self._bar.start()
            self._task = self._bar.add_task("", total=total, completed=done)
        else:
            self._say(f"grading {total} submissions" + (f" ({done} already graded)" if done else ""))

    def _say(self, line):
        self.stream.write(line + "\n")
        self.stream.flush()

    def _elapsed(self):
        return time.monotonic() - self.began

    def starting(self, slots):
        """The slots are starting: nothing can be graded until one has loaded TensorFlow."""
        text = f"starting {slots} grading slot{'s' if slots > 1 else ''}"
        if self.live:
            self._bar.update(self._task, description=text)
        else:
            self._say(f"{self._elapsed():.1f}s {text}")

    def started(self, label):
        self.running[label] = None
        if self.live:
            self._bar.update(self._task, description=shortened(", ".join(self.running), 40))
        else:
            self._say(f"{self._elapsed():.1f}s started {label}")

    def left(self, done):
        """'3 left, about 40 s': at the pace of this run's ends since its first (the first waited for the slots to
        load TensorFlow), so an estimate appears once two have ended."""
        left = self.total - done
        if not left:
            return "none left"
        ended = done - self.first_done
        if ended < 2:
            return f"{left} left"
        return f"{left} left, about {max(1, round((self._elapsed() - self.first_end) / (ended - 1) * left))} s"

    def update(self, done, label):
        """``label`` has ended; ``done`` of ``total`` are graded."""
        self.running.pop(label, None)
        if self.first_end is None:
            self.first_end = self._elapsed()
        if self.live:
            self._bar.update(self._task, completed=done, description=shortened(", ".join(self.running), 40))
        else:
            self._say(f"[{done}/{self.total}] {self._elapsed():.1f}s {label}; {self.left(done)}")

    def close(self):
        if self.live:
            self._bar.stop()
