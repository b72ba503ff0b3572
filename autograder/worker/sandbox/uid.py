"""The uid fallback, for root on hosts that refuse namespaces: a uid of its own per worker, a private work
directory, ``RLIMIT_NPROC`` and a Landlock domain; when the worker ends, every process of its uid is killed."""
import os
import shutil
import signal
import time
from pathlib import Path

from autograder.worker.sandbox import landlock
from autograder.worker.sandbox.cgroups import cgroup_join
from autograder.worker.sandbox.filesystem import readable_roots
from autograder.worker.sandbox.kernel import PR_SET_NO_NEW_PRIVS, close_fds, prctl, reset_environment, set_limits

UID_BASE = 200_000


def worker_uid(outer_pid):
    return UID_BASE + outer_pid


def contain(plan, keep_fds, main, outer):
    uid = gid = worker_uid(outer)
    workdirs = Path(plan.workdirs)
    workdirs.mkdir(mode=0o711, exist_ok=True)
    os.chmod(workdirs, 0o711)
    home = workdirs / str(outer)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(mode=0o700)
    os.chown(home, uid, gid)
    close_fds(keep_fds)
    cgroup_join(outer)
    read = [str(r) for r in readable_roots(plan.repo)] + ([plan.support] if plan.support else [])
    ruleset = landlock.landlock_ruleset(read=read + ["/etc", "/proc", "/sys/devices/system/cpu", "/dev/urandom",
                                           "/dev/random", "/dev/zero"],
                               write=[str(home), "/dev/null"])
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    landlock.restrict_self(ruleset)
    os.close(ruleset)
    set_limits(plan.limits)
    reset_environment(home, home)
    os.chdir(home)
    main()
    os._exit(0)


def _processes_of(uid):
    """Live (not zombie) processes whose real uid is ``uid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith("Z"):
                found.append(int(entry))
    return found


def kill_uid(uid):
    """Kill every process of ``uid`` (the uid fallback has no PID namespace to do it), until none is left."""
    for _ in range(100):
        pids = _processes_of(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)


def cleanup(outer_pid, plan):
    """After the worker's outer process is reaped: kill every process of its uid, remove its work directory."""
    kill_uid(worker_uid(outer_pid))
    shutil.rmtree(Path(plan.workdirs) / str(outer_pid), ignore_errors=True)
