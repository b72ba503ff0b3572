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
    die_with_parent,
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
        die_with_parent()  # (a change of uid clears the parent-death signal)
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
    """Live (not zombie) processes whose real uid is ``uid``, except the pids ``but``."""
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
    """Kill every process of ``uid``; True once none is left. Called by a root process with one thread (the
    worker's keeper): it takes ``uid`` as its real and effective uid, keeping root as its saved uid, and calls
    kill(-1, SIGKILL), which reaches every process of the uid at once (a spinner forking as fast as it can cannot
    outrun it), until /proc shows no live process of the uid but this one; then it is root again. (The change
    of uid clears this process's parent-death signal: the keeper calls it before it sets its own, and at its
    end.)"""
    os.setresuid(uid, uid, 0)
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:  # (only where this is the last process of its PID namespace)
                return True
            if not _live_processes_of(uid, but=(os.getpid(),)):  # (kill(-1) also counts zombies)
                return True
            time.sleep(0.002)
        return False
    finally:
        os.setresuid(0, 0, 0)


def sweep_uid(uid):
    """For the zygote (many threads, so it never takes a worker's uid itself): if anything of ``uid`` is still
    alive (its keeper was killed before it could end it), a child of the zygote kills it with ``kill_uid``."""
    if not _live_processes_of(uid):
        return
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if kill_uid(uid) else 1)
        finally:
            os._exit(1)
    os.waitpid(pid, 0)


def cleanup(outer_pid, plan):
    """After the worker's keeper is reaped: nothing of its uid may remain; remove its work directory."""
    sweep_uid(worker_uid(outer_pid))
    shutil.rmtree(Path(plan.workdirs) / str(outer_pid), ignore_errors=True)
