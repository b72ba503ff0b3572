"""Containment of one worker, door by door: the single-submission container mode (no namespaces, no Landlock), what a
worker can see and reach, links and odd names refused on intake, a check that prints, the minimal environment,
and a killed grader's staging folder swept. Each grades at most a few submissions."""
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from conftest import read_results, run_batch

import course_config
from autograder.submissions import intake
from autograder.authoring import examples

from autograder.worker import sandbox
from attacks import AS_ROOT, ASSIGNMENT, FULL, LIMITS, ROOT, Listener, host_ip, with_cell

#: The slow tier (pytest -m 'not slow' leaves it out): batches of attackers and victims in every containment (minutes).
pytestmark = pytest.mark.slow


#: Docker's default seccomp profile without the Landlock calls, as the grader's own filter: unshare refused
#: (EPERM) and Landlock missing (ENOSYS), so both probes fail exactly as they do in such a container.
NO_NAMESPACES_NO_LANDLOCK = """
import errno, os, sys
import pyseccomp as sc
f = sc.SyscallFilter(sc.ALLOW)
f.add_rule(sc.ERRNO(errno.EPERM), 'unshare')
for name in ('landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self'):
    f.add_rule(sc.ERRNO(errno.ENOSYS), name)
f.load()
os.execvp(sys.argv[1], sys.argv[1:])
"""

#: What a submission in the single-submission container tries: read the grader's secrets, write its results,
#: reach the host. Any success costs the (otherwise full) submission the shape prediction's points.
CONTAINER_ATTACK = """
import os, socket
got = []
for path in {secrets!r}:
    try:
        got.append(open(path).read(100))
        print('READ', path)
    except OSError as e:
        print('DENIED', type(e).__name__, path)
for path in {writes!r}:
    try:
        open(path, 'w').write('{{"score": 999, "tests": []}}')
        got.append(path)
        print('WROTE', path)
    except OSError as e:
        print('DENIED', type(e).__name__, path)
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()
    got.append('network')
except OSError as e:
    print('NO NETWORK', e)
print('UID', os.getuid(), 'ENV', sorted(os.environ))
if got:
    predicted_log_prob_shape = (0,)
"""


def _copy_checkout(target):
    """The checkout as git sees it (tracked files and new ones it does not ignore), links kept as links: never
    what git ignores, such as .venv/, build/ or make bench's bench/results.json."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        src, dst = ROOT / name, target / name
        if src.is_symlink() or src.exists():  # a tracked file deleted in the working tree is left out
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst, follow_symlinks=False)


@pytest.mark.skipif(not AS_ROOT, reason="the single-submission container mode is for a root grader")
def test_the_single_submission_container_mode_contains_the_worker(tmp_path):
    """A container without namespaces or Landlock (simulated here by the grader's own seccomp filter): the
    bundle's run_autograder grades in the single-submission container mode, and the worker's uid can neither
    read the reference values, the solutions or the hidden checks, nor write the results, nor reach the host."""
    tree, listener = tmp_path / "autograder", Listener()
    source = tree / "source"
    _copy_checkout(source)
    secrets = [source / "autograder" / "reference" / f"{ASSIGNMENT}.json",
               source / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
               source / "autograder" / "checks" / ASSIGNMENT / "affine_coupling_layer.py"]
    writes = [tree / "results" / "results.json", source / "course_config.py"]
    attack = CONTAINER_ATTACK.format(secrets=[str(p) for p in secrets], writes=[str(p) for p in writes],
                                     port=listener.port)
    (tree / "submission").mkdir(parents=True)
    nbformat.write(with_cell(examples.notebook("solutions"), attack),
                   str(tree / "submission" / f"{ASSIGNMENT}.ipynb"))
    env = {**os.environ, "AUTOGRADER_ROOT": str(tree), "AUTOGRADER_SOURCE": str(source),
           "AUTOGRADER_PYTHON": sys.executable, "AUTOGRADER_ASSIGNMENT": ASSIGNMENT,
           "AWS_SECRET_ACCESS_KEY": "CANARY-not-for-students"}
    env.pop("NF_GRADER_SANDBOX", None)
    try:
        done = subprocess.run([sys.executable, "-c", NO_NAMESPACES_NO_LANDLOCK, "bash",
                               str(source / "autograder" / "integrations" / "gradescope" / "run_autograder")],
                              env=env, capture_output=True, text=True, timeout=900)
    finally:
        listener.close()
    assert done.returncode == 0, done.stderr[-2000:]
    result = read_results(tree / "results" / "results.json")
    assert result["extra_data"]["sandbox"].startswith("container"), result["output"][:1500]
    output = result["extra_data"]["cell_output"]
    assert result["score"] == FULL, output[-2000:]
    for path in [*secrets, *writes]:
        assert f"DENIED PermissionError {path}" in output, output[-2000:]
    assert "NO NETWORK" in output and listener.accepted == 0
    uid = int(output.split("UID ", 1)[1].split()[0])
    assert uid >= sandbox.UID_BASE and "CANARY" not in output and "AWS_SECRET" not in output


# -- the view from inside ---------------------------------------------------------------------------------
PROBE = """
import os, socket
seen = {}
for path in %(paths)r:
    try:
        open(path).read(1) if os.path.isfile(path) else os.listdir(path)
        seen[path] = True
    except OSError:
        seen[path] = False
seen['pid'] = os.getpid()
seen['uid'] = os.getuid()
seen['writable_on_path'] = [p for p in __import__('sys').path if os.access(p or '.', os.W_OK)]
seen['net'] = []
for host in ('127.0.0.1', %(host_ip)r):  # the host's own listener, on its loopback and its interface address
    try:
        socket.create_connection((host, %(port)d), timeout=2).close()
        seen['net'].append(host)
    except OSError:
        pass
import statistics, cmath, doctest  # the standard library is there
print('SEEN', seen)
"""


@pytest.mark.parametrize("mode", [m for m in ("namespaces", "uid") if m == "namespaces" or AS_ROOT])
def test_a_worker_sees_no_grader_file_and_no_network(mode):
    if mode == "uid" and sandbox.landlock_abi() < 1:
        pytest.skip("no Landlock on this host")
    from autograder.worker.client import Worker
    from autograder.worker.zygote import Zygote
    paths = [str(ROOT / "autograder" / "reference" / f"{ASSIGNMENT}.json"), str(ROOT / "solutions"),
             str(ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), str(ROOT / "tests"), str(ROOT / ".git")]
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen(8)
    probe = PROBE % {"paths": paths, "host_ip": host_ip(), "port": listener.getsockname()[1]}
    try:
        with Zygote(mode=sandbox.detect(force=mode)) as zygote:
            with Worker(zygote, [probe], ASSIGNMENT, LIMITS, course_config.PROTOCOL_MODULES[ASSIGNMENT]) as w:
                w.start()
        with socket.socket() as s:  # the listener is reachable from here: its absence inside means something
            s.connect((host_ip(), listener.getsockname()[1]))
    finally:
        listener.close()
    text = w.output.text()
    assert w.cell_errors == [], w.cell_errors
    seen = eval(text.split("SEEN", 1)[1].strip().splitlines()[0])  # noqa: S307 (our own probe's dict)
    assert not any(seen[p] for p in paths), seen
    assert seen["net"] == []
    assert seen["writable_on_path"] == []
    assert seen["uid"] not in (0, os.getuid()) or not AS_ROOT
    if mode == "namespaces":
        assert seen["pid"] == 1


#: The cell of issue 19 that showed 25 hidden requests: the worker's own end-of-output marker and its switch to
#: /dev/null go through ``os.write`` and ``os.dup2``, which student code can replace.
PATCH_OUTPUT = """
import os
_write = os.write
os.write = lambda fd, data: len(data) if b'end of cell output' in bytes(data) else _write(fd, data)
os.dup2 = lambda *a, **k: None
"""


def test_a_check_prints_nothing_into_the_feedback(tmp_path):
    """What a student's method prints while the checks call it never reaches the output, even when the cells
    patched os.write and os.dup2 in the worker (before, that kept every check's input in the feedback)."""
    sol = examples.notebook("solutions")
    nb = examples.apply(sol, examples.Mistake("affine_coupling_layer", (
        ("def _inverse(self, y):\n", "def _inverse(self, y):\n        if y.shape[-1] == 5:\n            print('LEAK', y)\n"),),
        frozenset()))
    examples.write_submission(tmp_path / "in", "leaky", nb)
    examples.write_submission(tmp_path / "in", "patcher", with_cell(nb, PATCH_OUTPUT + "print('CELL OUTPUT KEPT')"))
    rows = run_batch(tmp_path / "in", tmp_path / "out", limits=LIMITS, jobs=1)[0][ASSIGNMENT]
    for name in ("leaky", "patcher"):
        assert rows[name]["score"] == FULL
        assert "LEAK" not in json.dumps(rows[name]), name
        assert "LEAK" not in (tmp_path / "out" / "feedback" / name / ASSIGNMENT / "feedback.md").read_text()
    assert "CELL OUTPUT KEPT" in rows["patcher"]["extra_data"]["cell_output"]


# -- input files ------------------------------------------------------------------------------------------
def test_links_fifos_and_bad_names_are_refused_with_a_reason(tmp_path):
    sol = examples.notebook("solutions")
    submitted = tmp_path / "submitted"
    alice = examples.write_submission(submitted, "alice", examples.notebook("release"))
    solutions = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    (submitted / "linked_file" / ASSIGNMENT).mkdir(parents=True)
    (submitted / "linked_file" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").symlink_to(solutions)
    (submitted / "linked_folder").symlink_to(submitted / "alice")
    (submitted / "linked_assignment").mkdir()
    (submitted / "linked_assignment" / ASSIGNMENT).symlink_to(solutions.parent, target_is_directory=True)
    (submitted / "fifo" / ASSIGNMENT).mkdir(parents=True)
    os.mkfifo(submitted / "fifo" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    nbformat.write(sol, str(submitted / "..ipynb"))        # a student called "."
    nbformat.write(sol, str(submitted / "...ipynb"))       # a student called ".."
    nbformat.write(sol, str(submitted / "bad\x07name.ipynb"))
    nbformat.write(sol, str(submitted / "=HYPERLINK(1).ipynb"))
    huge = examples.write_submission(submitted, "huge", sol)
    huge.write_bytes(huge.read_bytes() + b" " * (course_config.GRADING["submission_bytes"] + 1))
    found, refused = intake.find_submissions(submitted)
    assert set(refused) == {".", "..", "bad\x07name"}
    rows = run_batch(submitted, tmp_path / "out", limits=LIMITS, jobs=1)[0][ASSIGNMENT]
    for name in ("linked_file", "linked_folder", "linked_assignment"):
        assert rows[name]["score"] == 0 and "symbolic link" in rows[name]["output"], (name, rows[name]["output"])
    assert rows["fifo"]["score"] == 0 and "not a regular file" in rows["fifo"]["output"]
    assert rows["huge"]["score"] == 0 and "MiB" in rows["huge"]["output"]
    assert rows["=HYPERLINK(1)"]["score"] == FULL
    csv_text = (tmp_path / "out" / ASSIGNMENT / "grades.csv").read_text()
    assert "\n'=HYPERLINK(1)," in csv_text and "\n=HYPERLINK" not in csv_text
    assert not (tmp_path / "out" / ASSIGNMENT / "..").resolve().joinpath("results.json").exists()
    assert json.loads((tmp_path / "out" / "refused.json").read_text()).keys() == {".", "..", "bad\x07name"}
    assert alice.exists()


def test_output_and_batch_folders_must_not_be_links(tmp_path):
    examples.write_submission(tmp_path / "real", "someone", examples.notebook("release"))
    (tmp_path / "link").symlink_to(tmp_path / "real")
    target = tmp_path / "precious"
    target.mkdir()
    os.chmod(target, 0o755)
    (tmp_path / "outlink").symlink_to(target)
    for args in ([str(tmp_path / "link")], [str(tmp_path / "real"), "--out", str(tmp_path / "outlink")]):
        done = subprocess.run([sys.executable, "-m", "autograder", "batch", *args], cwd=ROOT,
                              capture_output=True, text=True)
        assert done.returncode == 2 and "symbolic link" in done.stderr, done.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o755 and list(target.iterdir()) == []


def test_grading_refuses_without_a_sandbox_unless_told(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "_probe_namespaces", lambda: False)
    monkeypatch.setattr(sandbox, "landlock_abi", lambda: 0)
    monkeypatch.setattr(sandbox, "_DETECTED", {})
    with pytest.raises(sandbox.SandboxUnavailable, match="--unsafe-no-sandbox"):
        sandbox.detect()
    assert sandbox.detect(allow_unsafe=True) == "none"


def test_a_long_line_is_refused_in_linear_time():
    from autograder.worker import wire
    buf = wire.LineBuffer(16 * 2**20)
    started = time.monotonic()
    with pytest.raises(wire.LineTooLong):
        for _ in range(300):
            buf.feed(b"a" * 2**20)
            buf.line()
    assert time.monotonic() - started < 5  # a quadratic scan of 300 MB would take minutes
    buf = wire.LineBuffer(100)
    buf.feed(b'{"a": 1}\n{"b"')
    assert buf.line() == b'{"a": 1}' and buf.line() is None
    buf.feed(b': 2}\n')
    assert buf.line() == b'{"b": 2}'


def test_a_course_under_tmp_keeps_its_packages_inside_the_private_tmp(monkeypatch):
    """A clone (and its venv) under /tmp: the worker's private /tmp is mounted first and the venv bound inside
    it, so a package that lives there still imports (before, the private /tmp hid it: ModuleNotFoundError)."""
    from autograder.worker.client import Worker
    from autograder.worker.zygote import Zygote
    site = Path(tempfile.mkdtemp(prefix="nf-course-under-tmp-", dir="/tmp")) / "site-packages"
    site.mkdir()
    (site / "probe_under_tmp.py").write_text("ANSWER = 42\n")
    os.chmod(site.parent, 0o755)
    monkeypatch.setenv("PYTHONPATH", f"{site}:{os.environ.get('PYTHONPATH', '')}")
    try:
        with Zygote(mode=sandbox.detect()) as zygote:
            with Worker(zygote, ["import probe_under_tmp\nprint('PROBE', probe_under_tmp.ANSWER)"], ASSIGNMENT,
                        LIMITS, course_config.PROTOCOL_MODULES[ASSIGNMENT]) as w:
                w.start()
        assert w.cell_errors == [], w.cell_errors
        assert "PROBE 42" in w.output.text()
    finally:
        shutil.rmtree(site.parent, ignore_errors=True)


def test_a_venv_reached_through_a_link_grades_the_solutions(tmp_path):
    """The grader run by a venv's python reached through a symbolic link (issue 26, case 11): the zygote's modules
    name their files by the link's path, so the worker's root binds the venv there too (before, only the resolved
    path: "ModuleNotFoundError: matplotlib.backends.backend_agg" in every student's feedback, and lost points)."""
    venv = Path(sys.prefix).resolve()
    link = tmp_path / "linked-venv"
    link.symlink_to(venv)
    os.chmod(tmp_path, 0o755)
    probe = subprocess.run([str(link / "bin" / "python"), "-c", "import sys; print(sys.prefix)"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == str(link)  # the premise: the interpreter knows its venv by the link
    out = tmp_path / "results.json"
    solutions = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    proc = subprocess.run([str(link / "bin" / "python"), "-m", "autograder", "grade", str(solutions), "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = read_results(out)
    assert data["score"] == FULL, [t["output"][:200] for t in data["tests"] if t["status"] != "passed"]
    assert not [n for n in data["extra_data"]["notes"] if n["kind"] != "info"], data["extra_data"]["notes"]


def test_a_worker_gets_a_minimal_environment_not_the_graders(monkeypatch):
    """A secret in the grader's environment never reaches student code (it could end up in feedback)."""
    from autograder.worker.client import Worker
    from autograder.worker.zygote import Zygote
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "CANARY-not-for-students")
    with Zygote(mode=sandbox.detect()) as zygote:
        with Worker(zygote, ["import os\nprint('ENV', sorted(os.environ.items()))"], ASSIGNMENT, LIMITS,
                    course_config.PROTOCOL_MODULES[ASSIGNMENT]) as w:
            w.start()
    text = w.output.text()
    assert "ENV" in text and "CANARY" not in text and "AWS_SECRET_ACCESS_KEY" not in text


def test_a_killed_graders_staging_folder_is_swept(tmp_path):
    from autograder.worker import zygote
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = Path(tempfile.gettempdir()) / f"{zygote.STAGING_PREFIX}{dead.pid}-leftover"
    left.mkdir()
    mine = Path(tempfile.gettempdir()) / f"{zygote.STAGING_PREFIX}{os.getpid()}-alive"
    mine.mkdir()
    try:
        zygote.sweep_staging()
        assert not left.exists() and mine.exists()  # a live grader's folder stays
    finally:
        shutil.rmtree(left, ignore_errors=True)
        shutil.rmtree(mine, ignore_errors=True)
