"""`make container-test`: the Gradescope bundle graded in real containers, as Gradescope runs it.

1. A Debian bookworm minbase image (debootstrap, then ``podman import``), built once and cached.
2. The grading image: the bundle (``make gradescope``) unpacked into /autograder/source of a clean container of that
   image, ``setup.sh`` run there as root, and the container committed. One image per bundle (its tag is the
   bundle's digest), so setup runs once, not per setting.
3. Four submissions of ``normalising_flows``: complete (the solutions), partly wrong (the demo's catalogued
   mistakes), untouched (the release) and hostile (the solutions plus ``hostile_cell.py``), each graded by the
   host (``python -m autograder grade``, from the unpacked bundle) and by ``run_autograder`` in a fresh container
   per submission under three settings: podman's default seccomp profile; that profile without the Landlock
   syscalls (``seccomp_without.py``; Docker 20.10's profile has none); and ``--memory 768m``, Gradescope's default.
4. A table (setting x submission: score, status, sandbox mode, seconds, peak memory) and a last line saying what
   held. Exit status 0 only when every container run gives exactly the host's score for every test, none says
   "unavailable", and the hostile submission gained nothing: the score of the solutions, the grader's own
   results.json (unchanged 3 s after run_autograder ended), nothing secret read, nothing written, nothing of it
   still running.

Run as root with podman, runc and debootstrap installed; ``--lock FILE`` takes an exclusive flock on FILE around
the grading runs (on a shared machine). Outputs go to build/container-test/ (each setting's results.json, the
host's, the run logs, and summary.json).
"""
import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import seccomp_without  # next to this file (the script's folder is on sys.path)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

ASSIGNMENT = "normalising_flows"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
BASE_IMAGE = "localhost/nf-bookworm-base:latest"
GRADING_IMAGE = f"localhost/nf-gradescope-{ASSIGNMENT.replace('_', '-')}"
PODMAN = ["podman", "--runtime", "runc"]  # crun refuses this host's hybrid cgroups
RUN = ["--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
DEFAULT_PROFILE = Path("/usr/share/containers/seccomp.json")
LANDLOCK_CALLS = ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self")
OUT = REPO / "build" / "container-test"
SECRET_MARK = "HOSTILE-REPORT "


#: What Docker's default profile allows only to a process with CAP_SYS_ADMIN (moby's profiles/seccomp/default.json)
#: and podman's allows to every process. ``clone`` stays allowed without the namespace flags, as in Docker's.
DOCKER_ADMIN_ONLY = ("mount", "umount2", "unshare", "pivot_root", "clone", "clone3")
CLONE_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET


def docker_like(profile):
    """Podman's profile as Docker's treats a container without CAP_SYS_ADMIN: no mount, unshare or pivot_root, clone
    only without namespace flags, clone3 ENOSYS (so the C library falls back to clone)."""
    out = seccomp_without.without(profile, DOCKER_ADMIN_ONLY)
    out["syscalls"] += [
        {"names": [n for n in DOCKER_ADMIN_ONLY if not n.startswith("clone")], "action": "SCMP_ACT_ERRNO",
         "errnoRet": 1},  # EPERM, Docker's default errno
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    return out


class Failure(Exception):
    """A step of the harness itself failed (not a grading outcome): one line, exit status 2."""


def sh(cmd, log=None, check=True, **kw):
    """Run ``cmd``; its output goes to ``log`` (a path) or is returned. A failure names the command and the log."""
    if log:
        with open(log, "ab") as f:
            f.write(f"\n$ {' '.join(map(str, cmd))}\n".encode())
            f.flush()
            p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, **kw)
        out = ""
    else:
        p = subprocess.run(cmd, capture_output=True, text=True, **kw)
        out = p.stdout
    if check and p.returncode != 0:
        where = f"; see {log}" if log else f": {(p.stderr or '').strip()[-400:]}"
        raise Failure(f"{' '.join(map(str, cmd[:6]))} ... exited with {p.returncode}{where}")
    return out


@contextlib.contextmanager
def heavy(lock):
    """An exclusive flock on ``lock`` (if given) while grading, so heavy runs on a shared machine go one at a time."""
    if not lock:
        yield
        return
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ---- images ---------------------------------------------------------------------------------------------------

def image_exists(name):
    return subprocess.run(PODMAN + ["image", "exists", name]).returncode == 0


def build_base(log):
    """Debian bookworm minbase, imported as BASE_IMAGE, unless it exists (``--rebuild-base`` removes it first)."""
    if image_exists(BASE_IMAGE):
        return "cached"
    t = time.monotonic()
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="nf-debootstrap-") as tmp:
        sh(["debootstrap", "--variant=minbase", "bookworm", f"{tmp}/root", "http://deb.debian.org/debian"], log=log)
        tar = subprocess.Popen(["tar", "-C", f"{tmp}/root", "-c", "."], stdout=subprocess.PIPE)
        sh(PODMAN + ["import", "-", BASE_IMAGE], log=log, stdin=tar.stdout)
        tar.wait()
    return f"built in {time.monotonic() - t:.0f} s"


def pip_configuration():
    """(bind mounts, environment) that give pip in a container this machine's package configuration: each pip
    config file that exists, every local path its values or the PIP_* variables name (find-links, file:// indexes,
    constraints), and the certificate, mounted under /run/nf-host/ (apt's ca-certificates owns the usual path)."""
    debug = sh([sys.executable, "-m", "pip", "config", "debug"], check=False)
    env = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    values, files = [], []
    for line in debug.splitlines():
        m = re.match(r"\s+(/\S+), exists: True$", line)
        if m:
            files.append(m.group(1))
            continue
        m = re.match(r"\s+(?:[\w.-]+\.)?([\w-]+)[:=]\s*'?(.*?)'?$", line)
        if m and not line.strip().startswith("/"):
            values.append((m.group(1).lower().replace("_", "-"), m.group(2)))
    mounts, cert = {f: f for f in files}, None
    for key, value in values + [(k[4:].lower().replace("_", "-"), v) for k, v in env.items()]:
        for token in value.split():
            path = token[len("file://"):] if token.startswith("file://") else token
            if token.startswith("file://"):  # a local index links to its files relative to itself (../../files/)
                path = os.path.dirname(path.rstrip("/"))
            if not path.startswith("/") or not os.path.exists(path):
                continue
            if key in ("cert", "pip-cert"):
                cert = path
            else:
                mounts[path] = path
    if cert:
        mounts[cert] = "/run/nf-host/pip-cert.pem"
        env["PIP_CERT"] = "/run/nf-host/pip-cert.pem"
    args = []
    for src, dst in sorted(mounts.items()):
        args += ["-v", f"{src}:{dst}:ro"]
    for k, v in sorted(env.items()):
        args += ["-e", f"{k}={v}"]
    return args


def unzip(zip_path, dest):
    """Unpack the bundle keeping each file's mode (Gradescope runs ``run_autograder`` and ``setup.sh`` from it)."""
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            out = z.extract(info, dest)
            mode = info.external_attr >> 16
            if mode & 0o777:
                os.chmod(out, mode & 0o7777)


SETUP = """set -e
mkdir -p /autograder && cp -a /bundle /autograder/source
cp -p /autograder/source/run_autograder /autograder/run_autograder
cd /autograder/source
start=$(date +%s.%N)
bash ./setup.sh
echo "NF-TEST setup_seconds $(echo "$(date +%s.%N) - $start" | awk '{print $1 - $3}')"
"""


def build_grading_image(zip_path, log):
    """The bundle set up in a clean container of the base image, committed as GRADING_IMAGE:<digest of the zip>."""
    digest = hashlib.sha256(Path(zip_path).read_bytes()).hexdigest()[:16]
    tag = f"{GRADING_IMAGE}:{digest}"
    if image_exists(tag):
        return tag, "cached"
    name = f"nf-setup-{digest}"
    subprocess.run(PODMAN + ["rm", "-f", name], capture_output=True)
    t = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="nf-bundle-") as tmp:
            unzip(zip_path, tmp)
            sh(PODMAN + ["run", "--name", name, *RUN, "-v", f"{tmp}:/bundle:ro", *pip_configuration(), BASE_IMAGE,
                         "bash", "-c", SETUP], log=log)
        sh(PODMAN + ["commit", "-q", name, tag], log=log)
    finally:
        subprocess.run(PODMAN + ["rm", "-f", name], capture_output=True)
    # Older bundles' images (about 2.8 GB each) are of no further use.
    for old in sh(PODMAN + ["images", "--format", "{{.Repository}}:{{.Tag}}"], check=False).split():
        if old.startswith(GRADING_IMAGE + ":") and old != tag:
            subprocess.run(PODMAN + ["rmi", old], capture_output=True)
    return tag, f"built in {time.monotonic() - t:.0f} s"


# ---- submissions and the host's grades --------------------------------------------------------------------------

def write_submissions(where):
    """{name: folder holding NOTEBOOK}: built from the committed notebooks by the examples catalogue."""
    import nbformat
    from nbformat.v4 import new_code_cell

    from autograder.authoring import examples
    step, mistakes = examples.DEMO["partly_wrong"][ASSIGNMENT]
    solutions = examples.notebook("solutions")
    hostile = nbformat.from_dict(solutions)
    hostile.cells.append(new_code_cell((HERE / "hostile_cell.py").read_text()))
    notebooks = {
        "complete": solutions,
        "partly_wrong": examples.apply(examples.notebook(step), *(examples.MISTAKE_EDITS[m] for m in mistakes)),
        "untouched": examples.notebook("release"),
        "hostile": hostile,
    }
    folders = {}
    for name, nb in notebooks.items():
        folder = where / name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(folder / NOTEBOOK))
        folders[name] = folder
    return folders


def metadata(name):
    """A submission_metadata.json as Gradescope writes it (the fields the grader reads)."""
    return {"id": 1, "created_at": "2026-03-01T10:00:00.000000-08:00",
            "assignment": {"due_date": "2026-03-02T23:59:00.000000-08:00", "title": ASSIGNMENT},
            "users": [{"name": name, "sid": name, "email": f"{name}@example.edu", "id": 1}]}


def host_grade(bundle_dir, folder, out, log):
    """The host's results.json for the same notebook, graded by the bundle's own code."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "MPLBACKEND": "Agg"}
    t = time.monotonic()
    sh([sys.executable, "-m", "autograder", "grade", str(folder / NOTEBOOK), "--out", str(out)], log=log,
       cwd=bundle_dir, env=env)
    return json.loads(Path(out).read_text()), time.monotonic() - t


# ---- one submission in one container ----------------------------------------------------------------------------

#: The container's command: run_autograder as Gradescope runs it, then what the harness needs to judge the run.
RUN_SCRIPT = r"""
start=$(date +%s.%N)
/autograder/run_autograder > /autograder/run.log 2>&1
rc=$?
echo "NF-TEST seconds $(echo "$(date +%s.%N) - $start" | awk '{print $1 - $3}')"
echo "NF-TEST rc $rc"
echo "NF-TEST results_sha $(sha256sum /autograder/results/results.json 2>/dev/null | cut -c1-64)"
sleep 3
echo "NF-TEST results_sha_later $(sha256sum /autograder/results/results.json 2>/dev/null | cut -c1-64)"
for d in /proc/[0-9]*; do
  p=${d#/proc/}; [ "$p" = "$$" ] && continue
  c=$(tr '\0' ' ' < $d/cmdline 2>/dev/null); [ -n "$c" ] || continue
  case "$c" in "sleep "*|"sha256sum "*|"cut "*|"tr "*) continue;; esac
  [ "$p" = 1 ] && continue
  echo "NF-TEST survivor $p uid=$(stat -c %u $d) $c"
done
m=/sys/fs/cgroup/memory
echo "NF-TEST peak_bytes $(cat $m/memory.max_usage_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.peak)"
echo "NF-TEST failcnt $(cat $m/memory.failcnt 2>/dev/null)"
echo "NF-TEST oom_kill $(awk '/oom_kill /{print $2}' $m/memory.oom_control 2>/dev/null)"
echo "NF-TEST limit_bytes $(cat $m/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
"""


class Sampler(threading.Thread):
    """Polls, from the host, the memory of each process in a container's memory cgroup every 0.25 s: the peak RSS
    of the grader, the zygote and the workers (summed), and the peak of their total."""

    def __init__(self, name):
        super().__init__(daemon=True)
        self.name_, self.stop = name, threading.Event()
        self.peak = {"grader": 0, "zygote": 0, "workers": 0, "other": 0, "total": 0}

    def cgroup_procs(self):
        pid = sh(PODMAN + ["inspect", "-f", "{{.State.Pid}}", self.name_], check=False).strip()
        if not pid.isdigit() or pid == "0":
            return None
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(","):
                return Path("/sys/fs/cgroup/memory") / path.lstrip("/") / "cgroup.procs"
        return Path("/sys/fs/cgroup") / path.lstrip("/") / "cgroup.procs"

    def run(self):
        procs = None
        while not self.stop.is_set() and procs is None:
            with contextlib.suppress(OSError, ValueError):
                procs = self.cgroup_procs()
            self.stop.wait(0.2)
        while not self.stop.is_set():
            info = {}
            with contextlib.suppress(OSError):
                for pid in procs.read_text().split():
                    with contextlib.suppress(OSError, ValueError, IndexError):
                        st = Path(f"/proc/{pid}/stat").read_text()
                        ppid = int(st.rsplit(")", 1)[1].split()[1])
                        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                        rss = next((int(ln.split()[1]) for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
                                    if ln.startswith("VmRSS:")), 0) * 1024  # a zombie has none
                        info[int(pid)] = (ppid, cmd, rss)
            roles = {}
            for pid, (ppid, cmd, rss) in info.items():
                if "autograder gradescope" in cmd:
                    roles[pid] = "grader"
            for pid, (ppid, cmd, rss) in info.items():
                if "worker.zygote" in cmd and roles.get(ppid) == "grader":
                    roles[pid] = "zygote"
            sums = dict.fromkeys(self.peak, 0)
            for pid, (ppid, cmd, rss) in info.items():
                role = roles.get(pid)
                if role is None:
                    role, up = "other", ppid
                    while up in info:  # a worker is any descendant of the zygote
                        if roles.get(up) == "zygote":
                            role = "workers"
                            break
                        up = info[up][0]
                sums[role] += rss
                sums["total"] += rss
            for k, v in sums.items():
                self.peak[k] = max(self.peak[k], v)
            self.stop.wait(0.25)


def parse_run(text):
    facts = {"survivors": []}
    for line in text.splitlines():
        if not line.startswith("NF-TEST "):
            continue
        _, key, *rest = line.split(" ", 2)
        value = rest[0] if rest else ""
        if key == "survivor":
            facts["survivors"].append(value)
        else:
            facts[key] = value
    return facts


def container_grade(image, setting_args, folder, name, where, log):
    """``run_autograder`` on one submission in a fresh container; (results.json or None, facts about the run)."""
    cname = f"nf-grade-{os.getpid()}-{name}"
    subprocess.run(PODMAN + ["rm", "-f", cname], capture_output=True)
    sh(PODMAN + ["create", "--name", cname, *RUN, *setting_args, image, "bash", "-c", RUN_SCRIPT], log=log)
    try:
        (where / "in").mkdir(parents=True, exist_ok=True)
        (where / "in" / "submission_metadata.json").write_text(json.dumps(metadata(name)))
        sh(PODMAN + ["cp", str(folder), f"{cname}:/autograder/submission"], log=log)
        sh(PODMAN + ["cp", str(where / "in" / "submission_metadata.json"), f"{cname}:/autograder/"], log=log)
        sampler = Sampler(cname)
        sampler.start()
        t = time.monotonic()
        p = subprocess.run(PODMAN + ["start", "-a", cname], capture_output=True, text=True)
        wall = time.monotonic() - t
        sampler.stop.set()
        sampler.join()
        (where / "stdout.txt").write_text(p.stdout + p.stderr)
        facts = parse_run(p.stdout)
        facts.update(wall=wall, podman_rc=p.returncode, rss_peaks=sampler.peak)
        shutil.rmtree(where / "results", ignore_errors=True)
        subprocess.run(PODMAN + ["cp", f"{cname}:/autograder/results", str(where / "results")], capture_output=True)
        subprocess.run(PODMAN + ["cp", f"{cname}:/autograder/run.log", str(where / "run.log")], capture_output=True)
        facts["results_files"] = sorted(p.name for p in (where / "results").glob("*")) if (where / "results").exists() \
            else []
        try:
            results = json.loads((where / "results" / "results.json").read_text())
        except (OSError, ValueError) as e:
            results, facts["results_error"] = None, str(e)
        return results, facts
    finally:
        subprocess.run(PODMAN + ["rm", "-f", cname], capture_output=True)


def probe(image, setting_args, log):
    """probe.py in a container of this setting: what the kernel and seccomp let a root grader do."""
    out = sh(PODMAN + ["run", "--rm", *RUN, *setting_args, "-v", f"{HERE / 'probe.py'}:/nf-probe.py:ro", image,
                       "/autograder/venv/bin/python", "/nf-probe.py"], check=False)
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": out.strip()[-300:]}


# ---- judging -----------------------------------------------------------------------------------------------------

def per_test(results):
    """Each scored test's (score, max score). ``run_autograder`` also lists each written answer as a test worth 0
    points (its text, for the TAs who grade it by hand on Gradescope); the host's ``grade`` has no such entries,
    and they carry no score, so they are left out of the comparison."""
    return {t["name"]: (t["score"], t["max_score"]) for t in results.get("tests", []) if t.get("max_score")}


def hostile_report(results):
    text = (results or {}).get("extra_data", {}).get("cell_output", "")
    lines = [ln for ln in text.splitlines() if ln.startswith(SECRET_MARK)]
    return json.loads(lines[-1][len(SECRET_MARK):]) if lines else None


def judge(name, results, facts, host, host_complete):
    """The reasons this run does not hold (an empty list when it does)."""
    if results is None:
        return [f"no results.json ({facts.get('results_error')}); run_autograder exit {facts.get('rc')}"]
    why = []
    extra = results.get("extra_data", {})
    if extra.get("status") == "unavailable":
        why.append(f"status unavailable: {extra.get('reason')}")
    theirs, ours = per_test(results), per_test(host)
    if theirs != ours:
        diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        why.append(f"{len(diff)} test(s) differ from the host: " + "; ".join(
            f"{k}: {theirs.get(k, ('-',))[0]} vs host {ours.get(k, ('-',))[0]}" for k in diff[:4]))
    if results.get("score") != host.get("score"):
        why.append(f"score {results.get('score')} vs host {host.get('score')}")
    if facts.get("results_sha") != facts.get("results_sha_later"):
        why.append("results.json changed after run_autograder had ended")
    student_procs = [s for s in facts["survivors"] if not s.split()[1] == "uid=0"]
    if student_procs:
        why.append(f"{len(student_procs)} process(es) of the student still running: {student_procs[0][:80]}")
    if name == "hostile":
        report = hostile_report(results)
        if report is None:
            why.append("the hostile cell's report is missing from cell_output")
        else:
            if report["read"]:
                why.append(f"the hostile cell read {len(report['read'])} secret file(s): {report['read'][0]}")
            if report["wrote"]:
                why.append(f"the hostile cell wrote {', '.join(report['wrote'])}")
        if results.get("score") != host_complete.get("score"):
            why.append(f"hostile score {results.get('score')} != the solutions' {host_complete.get('score')}")
        if set(facts["results_files"]) - {"results.json"}:
            why.append(f"extra files in /autograder/results: {facts['results_files']}")
    return why


def mib(n):
    try:
        return f"{int(n) / 2**20:.0f}"
    except (TypeError, ValueError):
        return "-"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zip", default=str(REPO / "dist" / f"gradescope_{ASSIGNMENT}.zip"))
    ap.add_argument("--lock", help="flock this file while grading (a shared machine)")
    ap.add_argument("--settings", default="default,no-landlock,768m",
                    help="comma-separated, from default, no-landlock, 768m and docker (podman's profile with "
                         "mount, unshare and namespace flags of clone refused, as Docker's refuses them without "
                         "CAP_SYS_ADMIN)")
    ap.add_argument("--submissions", default="complete,partly_wrong,untouched,hostile")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the base and grading images")
    args = ap.parse_args(argv)
    for tool in ("podman", "runc", "debootstrap"):
        if not shutil.which(tool):
            raise Failure(f"{tool} is not installed (as root: apt-get install -y podman runc debootstrap)")
    if os.geteuid() != 0:
        raise Failure("run this as root (podman, debootstrap and the grading image's setup need it)")
    if not Path(args.zip).exists():
        raise Failure(f"{args.zip} does not exist; run make gradescope first")
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / "build.log"
    log.write_text("")
    if args.rebuild:
        for img in (BASE_IMAGE,):
            subprocess.run(PODMAN + ["rmi", "-f", img], capture_output=True)
    print(f"base image {BASE_IMAGE}: {build_base(log)}", flush=True)
    image, how = build_grading_image(args.zip, log)
    print(f"grading image {image}: {how}", flush=True)
    no_landlock = OUT / "seccomp-no-landlock.json"
    no_landlock.write_text(json.dumps(seccomp_without.without(json.loads(DEFAULT_PROFILE.read_text()), LANDLOCK_CALLS),
                                      indent=1))
    docker = OUT / "seccomp-docker-like.json"
    docker.write_text(json.dumps(docker_like(json.loads(DEFAULT_PROFILE.read_text())), indent=1))
    settings = {"default": [],
                "no-landlock": ["--security-opt", f"seccomp={no_landlock}"],
                "768m": ["--memory", "768m"],
                "docker": ["--security-opt", f"seccomp={docker}"]}  # not in the default three: see --settings
    chosen = [s for s in args.settings.split(",") if s]
    bad = [s for s in chosen if s not in settings]
    if bad:
        raise Failure(f"unknown setting(s) {bad}; choose from {list(settings)}")
    names = [n for n in args.submissions.split(",") if n]

    bundle_dir = OUT / "bundle"
    shutil.rmtree(bundle_dir, ignore_errors=True)
    unzip(args.zip, bundle_dir)
    folders = write_submissions(OUT / "submissions")
    with heavy(args.lock):  # the grading runs, host and containers, go one after another
        return grade_and_compare(image, settings, chosen, names, bundle_dir, folders, log)


def grade_and_compare(image, settings, chosen, names, bundle_dir, folders, log):
    host, host_seconds = {}, {}
    for name in dict.fromkeys(names + ["complete"]):
        host[name], host_seconds[name] = host_grade(bundle_dir, folders[name], OUT / "host" / f"{name}.json", log)
        print(f"host: {name}: {host[name]['score']:g} / {sum(t['max_score'] for t in host[name]['tests']):g}, "
              f"{host[name]['extra_data']['status']}, {host[name]['extra_data']['sandbox']}, "
              f"{host_seconds[name]:.1f} s", flush=True)
    host_hostile_report = hostile_report(host.get("hostile"))
    if "hostile" in names:
        print(f"host: hostile report: {host_hostile_report}", flush=True)

    rows, failures, probes = [], [], {}
    for setting in chosen:
        probes[setting] = probe(image, settings[setting], log)
        print(f"[{setting}] probe: {json.dumps(probes[setting])}", flush=True)
        for name in names:
            where = OUT / setting / name
            where.mkdir(parents=True, exist_ok=True)
            results, facts = container_grade(image, settings[setting], folders[name], name, where, log)
            why = judge(name, results, facts, host[name], host["complete"])
            extra = (results or {}).get("extra_data", {})
            row = {"setting": setting, "submission": name, "score": (results or {}).get("score"),
                   "host_score": host[name]["score"], "status": extra.get("status"), "sandbox": extra.get("sandbox"),
                   "reason": extra.get("reason"), "seconds": facts.get("seconds"), "wall": facts["wall"],
                   "peak_bytes": facts.get("peak_bytes"), "limit_bytes": facts.get("limit_bytes"),
                   "failcnt": facts.get("failcnt"), "oom_kill": facts.get("oom_kill"), "rss_peaks": facts["rss_peaks"],
                   "hostile_report": hostile_report(results) if name == "hostile" else None,
                   "survivors": facts["survivors"], "held": not why, "why": why}
            rows.append(row)
            failures += [f"{setting}/{name}: {w}" for w in why]
            print(f"[{setting}] {name}: score {row['score']} (host {row['host_score']}), {row['status']}, "
                  f"{facts.get('seconds')} s, peak {mib(row['peak_bytes'])} MiB, rss {row['rss_peaks']}, "
                  f"oom_kill {row['oom_kill']}" + (f"; FAILS: {'; '.join(why)}" if why else ""), flush=True)
    (OUT / "summary.json").write_text(json.dumps({"image": image, "probes": probes, "rows": rows,
                                                  "host_seconds": host_seconds, "failures": failures}, indent=1))

    print()
    head = f"{'setting':<12} {'submission':<13} {'score':>6} {'host':>6} {'status':<12} {'sandbox':<10} " \
           f"{'seconds':>7} {'peak MiB':>8} {'RSS MiB g/z/w':>15}  held"
    print(head)
    print("-" * len(head))
    for r in rows:
        mode = (r["sandbox"] or "-").split(" ")[0]
        p = r["rss_peaks"]
        rss = f"{mib(p['grader'])}/{mib(p['zygote'])}/{mib(p['workers'])}"
        score = "-" if r["score"] is None else f"{r['score']:g}"
        print(f"{r['setting']:<12} {r['submission']:<13} {score:>6} {r['host_score']:>6g} {str(r['status']):<12} "
              f"{mode:<10} {str(r['seconds']):>7} {mib(r['peak_bytes']):>8} {rss:>15}  "
              f"{'yes' if r['held'] else 'NO'}")
    print(f"(peak MiB: the container's memory cgroup, page cache included; RSS: sampled from the host every 0.25 s; "
          f"outputs in {OUT.relative_to(REPO)}/)")
    for f in failures:
        print(f"  FAIL {f}")
    if failures:
        failed = [r for r in rows if not r["held"]]
        print(f"NOT HELD: {len(failed)} of {len(rows)} container runs failed, in "
              f"{', '.join(dict.fromkeys(r['setting'] for r in failed))} ({len(failures)} reasons above)")
        return 1
    print(f"HELD: {len(rows)} container runs ({', '.join(chosen)} x {', '.join(names)}) gave the host's scores "
          f"test by test, none unavailable; the hostile submission read nothing secret, wrote nothing, and scored "
          f"the solutions' {host['complete']['score']:g}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"container-test: {e}", file=sys.stderr)
        sys.exit(2)
