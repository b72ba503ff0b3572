"""Follow one call through the grader's modules: which ``autograder`` modules it enters, how often, how often it
comes back to a module it had left, and how often it reads a given file (``python -m bench.parts path``).

A profile hook (``sys.setprofile``) sees every Python call and return of this thread. A frame belongs to the
module of its code file under ``autograder/`` (``course``, ``worker.client``, ``checks.normalising_flows.x``),
or to none (the standard library, nbformat, pytest). A call *enters* module M when M's code is called while the
innermost running frame of ``autograder`` is in another module (a call through pytest or nbformat counts from the
``autograder`` module below it). An entry is a *return* when M had been entered before. Two counts are kept:

* ``entries``: every such call (a loop that asks ``notebooks.grade_meta`` for each of 90 cells is 90 entries);
* ``sites``: each call site (file and line) and callee counted once, the first time it is taken (that loop is one
  entry): the path as one reads it in the code, following only the branches this submission takes.

A call of a ``functools.cache`` function is an entry too, whether the cache answers or not: the module was asked.

Reads of the file are counted three ways: ``notebooks.read`` calls on it (parses), ``nbformat.reads`` calls made
while parsing it, and the file opened at all (``open`` audit events: every read of its bytes, parsed or not).
Module bodies run by an import are not counted.
"""
import collections
import os
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "autograder"


def _asking(fn, mod):
    """``fn`` (a ``functools.cache`` function of module ``mod``) behind a Python frame the profile hook sees."""
    def asked(*args, _traced_fn=fn, _traced_module=mod, **kwargs):  # defaults: in f_locals at the "call" event
        return _traced_fn(*args, **kwargs)
    return asked


_ASKED_CODE = _asking(None, None).__code__


class PathTrace:
    """Record the module transitions of the calls made while inside (``with PathTrace(file) as t: ...``)."""

    def __init__(self, watched, package=PACKAGE):
        self.watched = os.path.realpath(watched)
        self.prefix = str(package) + os.sep
        self._names = {}
        self.entries = []  # (from module, to module, function), in order
        self.sites = []  # the same, once per calling frame and call line
        self.parses, self.nbformat_reads, self.opens = [], [], 0
        self._stack = []  # per Python frame: (its autograder module or None, innermost autograder module so far)
        self._seen_sites = set()
        self._imports = 0
        self._on = False

    def module(self, code):
        name = self._names.get(code.co_filename)
        if name is None:
            path = os.path.realpath(code.co_filename)
            name = ""
            if path.startswith(self.prefix) and path.endswith(".py"):
                name = path[len(self.prefix):-3].replace(os.sep, ".")
                name = name[:-len(".__init__")] if name.endswith(".__init__") else name
            self._names[code.co_filename] = name
        return name or None

    def _enter(self, here, mod, name, caller):
        """Count a call into ``mod`` from ``here`` made at ``caller`` (a frame, at its current line)."""
        step = (here, mod, name)
        self.entries.append(step)
        site = (caller.f_code.co_filename, caller.f_lineno, step) if caller is not None else (None, 0, step)
        if site not in self._seen_sites:
            self._seen_sites.add(site)
            self.sites.append(step)

    def _profile(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            here = self._stack[-1][1] if self._stack else None
            if code.co_name == "<module>":
                self._imports += 1
                self._stack.append(("<import>", here))
                return
            if code is _ASKED_CODE:  # a cached function of autograder asked (``_asking``): an entry, hit or miss
                mod = frame.f_locals["_traced_module"]
                if mod != here and not self._imports:
                    self._enter(here, mod, frame.f_locals["_traced_fn"].__wrapped__.__name__, frame.f_back)
                self._stack.append(("<cached>", mod))
                return
            mod = self.module(code)
            if self._imports:
                self._stack.append((mod, here))
                return
            if code.co_name == "read" and mod == "notebooks":
                self.parses.append(self._is_watched(frame.f_locals.get("path")))
            elif code.co_name == "reads" and code.co_filename.endswith(os.path.join("nbformat", "__init__.py")):
                self.nbformat_reads.append(self._parsing_watched(frame.f_back))
            if mod is not None and mod != here:
                self._enter(here, mod, code.co_name, frame.f_back)
            self._stack.append((mod, mod or here))
        elif event == "return" and self._stack:
            mod = self._stack.pop()[0]
            if mod == "<import>":
                self._imports -= 1

    def _is_watched(self, path):
        try:
            return path is not None and os.path.realpath(path) == self.watched
        except (TypeError, ValueError):
            return False

    def _parsing_watched(self, frame):
        """Whether the innermost ``notebooks.read`` running below ``frame`` is on the watched file."""
        while frame is not None:
            if frame.f_code.co_name == "read" and self.module(frame.f_code) == "notebooks":
                return self._is_watched(frame.f_locals.get("path"))
            frame = frame.f_back
        return False

    def _audit(self, event, args):
        if self._on and event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            if self._is_watched(os.fsdecode(args[0])):
                self.opens += 1

    def __enter__(self):
        sys.addaudithook(self._audit)  # audit hooks cannot be removed: ``_on`` turns it off again
        self._on = True
        self._patched = []
        for name, module in list(sys.modules.items()):  # a cache hit runs no Python: make each ask visible
            if name != "autograder" and not name.startswith("autograder."):
                continue
            for attr, value in list(vars(module).items()):
                code = getattr(getattr(value, "__wrapped__", None), "__code__", None)
                if type(value).__name__ == "_lru_cache_wrapper" and code is not None and self.module(code):
                    setattr(module, attr, _asking(value, self.module(code)))
                    self._patched.append((module, attr, value))
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)
        self._on = False
        for module, attr, value in self._patched:
            setattr(module, attr, value)

    def summary(self):
        """What the path did, as one JSON-ready dict."""
        def counts(steps):
            per = collections.Counter(to for _, to, _ in steps)
            seen, returns = set(), 0
            for _, to, _ in steps:
                returns += to in seen
                seen.add(to)
            return {"modules": len(per), "entries": len(steps), "returns": returns,
                    "per_module": dict(per.most_common())}
        return {"entries": counts(self.entries), "sites": counts(self.sites),
                "sequence": [f"{to}.{fn}" for _, to, fn in self.sites],
                "reads": {"notebooks.read": sum(self.parses), "notebooks.read_other_files": len(self.parses) - sum(self.parses),
                          "nbformat.reads": sum(self.nbformat_reads), "opened": self.opens}}
