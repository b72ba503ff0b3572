"""The sandbox one worker runs in: kernel namespaces, a private view of the filesystem, and resource caps.

``detect()`` picks the strongest containment this host offers, once per grader process:

``namespaces``
    PID, mount, network, IPC and UTS namespaces, plus an unprivileged user namespace when the grader is
    not root. Everything the submission starts lives in its own PID namespace and dies with it. Its
    filesystem is a fresh tmpfs root holding read-only binds of the system (``/usr``), the interpreter, the
    venv and the assignment's support files, and size-capped tmpfs mounts for ``/tmp``, ``/dev/shm`` and
    its home. Nothing of the repo, the submissions, the outputs or the grader is mounted. The network
    namespace has only a loopback. As root the worker then runs as a uid of its own (``UID_BASE`` plus the
    pid of its outer process, so no two live workers share one) with no capabilities; without root it keeps
    the grader's uid inside its user namespace and drops every capability there.
``container``
    For root in a container that holds one submission and offers neither (``sandbox.container``), switched on
    only by ``NF_GRADER_SINGLE_SUBMISSION``: the uid fallback without Landlock. The grader's files are closed
    to the worker by their permissions, and the seccomp filter is its only barrier to the network.
``uid``
    For root on hosts that refuse namespaces (Docker's default seccomp profile refuses ``unshare`` to a
    process without ``CAP_SYS_ADMIN``): a uid of its own, a private work directory, ``RLIMIT_NPROC``, and a
    Landlock domain that allows reading only the system, interpreter, venv and support files, writing only
    the work directory, no TCP, and no signals or abstract sockets outside the domain. When the worker
    ends, every process of its uid is killed.

Where neither is available the grader refuses to run student code, unless the instructor passes
``--unsafe-no-sandbox`` (mode ``none``: the worker runs as the grader, with rlimits only).

Where a cgroup hierarchy is writable (root), each worker also gets a cgroup with ``pids.max`` and a memory
cap that counts its tmpfs pages; otherwise ``RLIMIT_NPROC``, ``RLIMIT_DATA`` and the tmpfs size caps bound it.

The kernel calls are made through ``ctypes`` (Python 3.11 has no ``os.unshare``). Each is one libc call whose
failure raises ``OSError`` naming it. Why not bubblewrap: it can only start a new program, and a new program
has to import TensorFlow again (4.8 s here), whereas a worker forked from the pre-warmed zygote is ready in
about 0.1 s. The sandbox has to be entered after that fork, so it is built in the forked child.
"""
import fcntl
import os
import platform
import signal
import socket
import struct
from pathlib import Path

from autograder.worker.sandbox import container, keeper, seccomp
from autograder.worker.sandbox import uid as uid_fallback
from autograder.worker.sandbox.cgroups import (
    cgroup_create,
    cgroup_dirs,
    cgroup_join,
    cgroup_remove,
    sweep_stale_cgroups,
)
from autograder.worker.sandbox.filesystem import (
    HOME_INSIDE,
    SUPPORT_INSIDE,
    bound_paths,
    build_root,
    readable_roots,
)
from autograder.worker.sandbox.kernel import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    LIBC,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    PR_SET_NO_NEW_PRIVS,
    SYS,
    SandboxUnavailable,
    close_fds,
    die_with_parent,
    drop_capabilities,
    kill_group,
    mount,
    prctl,
    reset_environment,
    set_limits,
    unshare,
)
from autograder.worker.sandbox.landlock import landlock_abi
from autograder.worker.sandbox.uid import UID_BASE, worker_uid

#: What the zygote and the grader use: the rest of the package is how it is done.
__all__ = ["SandboxUnavailable", "Plan", "UID_BASE", "contain", "cleanup", "detect", "describe", "die_with_parent",
           "container", "keeper", "landlock_abi", "seccomp", "stop", "sweep_stale_cgroups", "worker_uid"]


class Plan:
    """Everything the sandbox of one worker needs to know; built in the grader, used in the zygote's child."""

    def __init__(self, mode, support, limits, repo, workdirs):
        """``support``: the staged support files; ``workdirs``: a root-owned folder for the uid fallback's
        private work directories (removed with the zygote)."""
        self.mode, self.support, self.limits = mode, str(support) if support else None, limits
        self.repo, self.workdirs = str(Path(repo).resolve()), str(workdirs)

    def to_json(self):
        return {"mode": self.mode, "support": self.support, "limits": self.limits, "repo": self.repo,
                "workdirs": self.workdirs}

    @classmethod
    def from_json(cls, d):
        return cls(d["mode"], d["support"], d["limits"], d["repo"], d["workdirs"])

    @property
    def support_inside(self):
        if not self.support:
            return None
        return SUPPORT_INSIDE if self.mode == "namespaces" else self.support


def enter_namespaces():
    """Unshare the mount, PID, network, IPC and UTS namespaces (and, without root, the user namespace, keeping
    this process's uid and gid inside it). The next child forked is PID 1 of the new PID namespace."""
    root = os.geteuid() == 0
    uid, gid = os.getuid(), os.getgid()
    unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | (0 if root else CLONE_NEWUSER))
    if not root:
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _loopback_up():
    """Bring up ``lo`` in the new network namespace (SIOCSIFFLAGS with IFF_UP | IFF_RUNNING)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", 0x1 | 0x40))


def contain(plan, keep_fds, main):
    """In the zygote's freshly forked child: become the worker's keeper (``keeper.keep``), and run ``main()`` in
    the worker it forks, inside the sandbox ``plan`` describes.

    Never returns. ``keep_fds`` are the descriptors ``main`` needs (its socket and output pipe); every other
    inherited descriptor is closed before student code can run.
    """
    os.setpgid(0, 0)
    outer = os.getpid()
    if plan.mode == "none":
        keeper.keep(lambda: _unsandboxed(plan, keep_fds, main), _end_group)
    cgroup_create(outer, plan.limits)
    if plan.mode in ("uid", "container"):
        uid_fallback.contain(plan, keep_fds, main, outer)
    uid, gid = os.getuid(), os.getgid()
    roots = bound_paths(plan.repo)  # while the host's paths are still in view
    enter_namespaces()
    # The keeper stays outside; the worker it forks is PID 1 of the new namespace, and when PID 1 ends the
    # kernel kills everything else in it.
    keeper.keep(lambda: _namespaced(plan, keep_fds, main, outer, roots, uid, gid), _end_namespace)


def _namespaced(plan, keep_fds, main, outer, roots, uid, gid):
    """PID 1 of the worker's namespaces: build its root, drop to its uid (or its capabilities), run ``main``."""
    root = os.geteuid() == 0
    close_fds(keep_fds)
    if root:
        cgroup_join(outer)
        uid = gid = worker_uid(outer)
    build_root(plan, roots, uid, gid)
    LIBC.sethostname(b"sandbox", 7)
    _loopback_up()
    if root:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)  # from root to a uid of its own: every capability goes
        die_with_parent()  # (a change of uid clears the parent-death signal)
    else:
        drop_capabilities()
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    set_limits(plan.limits)
    reset_environment(HOME_INSIDE, "/tmp")
    os.chdir(HOME_INSIDE)
    seccomp.install(network=True)  # its network namespace holds only a loopback
    main()
    os._exit(0)


def _end_namespace(pid):
    """Kill the namespace's init; the kernel kills the rest of the namespace before its init is reaped."""
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _unsandboxed(plan, keep_fds, main):
    os.setpgid(0, 0)
    close_fds(keep_fds)
    set_limits(plan.limits)
    reset_environment(os.environ.get("HOME", "/tmp"), os.environ.get("TMPDIR", "/tmp"))
    if not seccomp.available():
        seccomp.install(network=False)
    main()
    os._exit(0)


def _end_group(pid):
    """Without a sandbox, only the worker's process group can be killed (what leaves it survives)."""
    if pid is not None:
        kill_group(pid)


def stop(pid):
    """Ask the keeper ``pid`` (what ``Zygote.spawn`` returned) to end its worker and everything it started."""
    keeper.stop(pid)


def cleanup(outer_pid, plan, seconds=2.0):
    """After a worker's outer process is reaped: nothing of it may remain (processes, files, cgroups).

    Returns False if its cgroups are still busy (a killed process can take a while to free its memory);
    the zygote then tries again later."""
    if plan.mode in ("uid", "container"):
        uid_fallback.cleanup(outer_pid, plan)
    return cgroup_remove(outer_pid, seconds)


_DETECTED = {}


def _probe_namespaces():
    """Fork a child that builds a minimal namespace sandbox; True if it could."""
    pid = os.fork()
    if pid == 0:
        try:
            enter_namespaces()
            inner = os.fork()
            if inner == 0:
                try:
                    mount(None, "/", None, MS_REC | MS_PRIVATE)
                    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m")
                    os.mkdir("/tmp/proc")
                    mount("proc", "/tmp/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
                    os._exit(0 if os.getpid() == 1 else 3)
                except BaseException:  # noqa: BLE001
                    os._exit(2)
            _, status = os.waitpid(inner, 0)
            os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 4)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def detect(allow_unsafe=False, force=None):
    """The containment mode to use here: "namespaces", "uid", "container" (only where switched on) or (only if
    ``allow_unsafe``) "none".

    Raises SandboxUnavailable with a one-line reason when the host offers neither. ``force`` (or the
    environment variable ``NF_GRADER_SANDBOX``) picks a mode by name, for tests and for instructors.
    """
    force = force or os.environ.get("NF_GRADER_SANDBOX")
    key = (allow_unsafe, force)
    if key in _DETECTED:
        return _DETECTED[key]
    reasons = []
    if seccomp.available() and not (allow_unsafe or force == "none"):
        raise SandboxUnavailable(f"refusing to run student code: {seccomp.available()}. Pass --unsafe-no-sandbox "
                                 "to grade anyway, without containment.")
    if not SYS:
        reasons.append(f"no syscall table for {platform.machine()}")
    ns_ok = bool(SYS) and (force in (None, "namespaces")) and _probe_namespaces()
    if force in (None, "namespaces") and not ns_ok:
        reasons.append("this host does not allow the worker its own user, PID and mount namespaces")
    uid_ok = (not ns_ok and force in (None, "uid") and os.geteuid() == 0 and landlock_abi() >= 1)
    if force in (None, "uid") and not ns_ok and not uid_ok:
        reasons.append("the uid fallback needs root and Landlock" + (
            " (Landlock is unavailable)" if os.geteuid() == 0 else " (the grader is not root)"))
    single = not ns_ok and not uid_ok and force in (None, "container") and os.geteuid() == 0 and container.folder()
    if force in (None, "container") and not ns_ok and not uid_ok and not single:
        reasons.append(f"the single-submission container mode needs root and {container.SWITCH} (not set)"
                       if os.geteuid() == 0 else "the single-submission container mode needs root")
    if ns_ok:
        mode = "namespaces"
    elif uid_ok:
        mode = "uid"
    elif single:
        mode = "container"
    elif allow_unsafe or force == "none":
        mode = "none"
    else:
        raise SandboxUnavailable("refusing to run student code without a sandbox: " + "; ".join(reasons)
                                 + ". Pass --unsafe-no-sandbox to grade anyway, without containment.")
    _DETECTED[key] = mode
    return mode


def describe(mode):
    """One line for the instructor and for results.json: what contained the worker."""
    cg = [c for c in ("pids", "memory") if c in cgroup_dirs("probe")] if os.geteuid() == 0 else []
    caps = f"; cgroup caps: {', '.join(cg)}" if cg else "; caps: rlimits and tmpfs sizes"
    if mode == "namespaces":
        user = "a uid of its own" if os.geteuid() == 0 else "an unprivileged user namespace"
        return f"namespaces (pid, mount, net, ipc, uts) with {user}{caps}"
    if mode == "uid":
        return f"uid fallback (a uid of its own, Landlock ABI {landlock_abi()}, private workdir){caps}"
    if mode == "container":
        return (f"container (one submission: a uid of its own, the grader's files closed to it by their "
                f"permissions, seccomp without network, private workdir){caps}")
    return "NONE: --unsafe-no-sandbox (the worker runs as the grader's user, with rlimits only)"
