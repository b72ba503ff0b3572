"""The uid fallback, for root on hosts that refuse namespaces: a uid of its own per worker, a private work
directory, ``RLIMIT_NPROC`` and a Landlock domain; when the worker ends, its keeper kills every process of its uid,
and a uid is never given to a worker while anything of it remains."""
import os
import shutil
import signal
import time
from pathlib import Path

from autograder.worker.sandbox import keeper, landlock, seccomp
from autograder.worker.sandbox.cgroups import cgroup_join
from autograder.worker.sandbox.filesystem import readable_roots
from autograder.worker.sandbox.kernel import (
    PR_SET_NO_NEW_PRIVS,
    SandboxUnavailable,
    close_fds,
    prctl,
    reset_environment,
    set_limits,
)

UID_BASE = 200_000


def worker_uid(outer_pid):
    return UID_BASE + outer_pid


def contain(plan, keep_fds, main, outer):
    """As root, in the worker's keeper: make sure its uid is empty and make its work directory, then fork the
    worker, which takes that uid, enters its Landlock domain (mode ``uid``; the single-submission container has
    none) and runs ``main``. Never returns."""
    uid = gid = worker_uid(outer)
    if not kill_uid(uid):  # a uid is never handed on while anything of it remains
        raise SandboxUnavailable(f"uid {uid} still has processes of an earlier worker")
    workdirs = Path(plan.workdirs)
    workdirs.mkdir(mode=0o711, exist_ok=True)
    os.chmod(workdirs, 0o711)
    home = workdirs / str(outer)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(mode=0o700)
    os.chown(home, uid, gid)

    def enter():
        close_fds(keep_fds)
        cgroup_join(outer)
        ruleset = None
        if plan.mode == "uid":  # (the single-submission container has no Landlock: permissions do that job)
            read = [str(r) for r in readable_roots(plan.repo)] + ([plan.support] if plan.support else [])
            ruleset = landlock.landlock_ruleset(read=read + ["/etc", "/proc", "/sys/devices/system/cpu",
                                                             "/dev/urandom", "/dev/random", "/dev/zero"],
                                                write=[str(home), "/dev/null"])
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        if ruleset is not None:
            landlock.restrict_self(ruleset)
            os.close(ruleset)
        set_limits(plan.limits)
        reset_environment(home, home)
        os.chdir(home)
        seccomp.install(network=False)  # no network namespace: no socket but AF_UNIX
        main()
        os._exit(0)

    def end(pid):
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        else:  # no PID namespace holds what the worker started: everything of its uid dies
            kill_uid(uid)

    keeper.keep(enter, end)


def _live_processes_of(uid, but=()):
    """Live (not zombie) processes whose real uid is ``uid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in but:
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith("Z"):
                found.append(int(entry))
    return found


def kill_uid(uid, seconds=10.0):
    """Kill every process of ``uid``; True once none is left. A child of ours takes that uid and calls
    kill(-1, SIGKILL), which reaches every process of the uid at once (a spinner forking as fast as it can
    cannot outrun it), until the kernel finds none (ESRCH) or only zombies remain."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    code = 0
                    break
                if not _live_processes_of(uid, but=(os.getpid(),)):
                    code = 0
                    break
                time.sleep(0.002)
        finally:
            os._exit(code)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        except InterruptedError:
            continue


def cleanup(outer_pid, plan):
    """After the worker's keeper is reaped: nothing of its uid may remain; remove its work directory."""
    kill_uid(worker_uid(outer_pid))
    shutil.rmtree(Path(plan.workdirs) / str(outer_pid), ignore_errors=True)
