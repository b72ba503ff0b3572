"""The kernel calls the sandbox is built from, through ``ctypes`` (Python 3.11 has no ``os.unshare``), and their
constants (linux/sched.h, linux/mount.h, linux/prctl.h, linux/landlock.h). Each call is one libc call whose
failure raises ``OSError`` naming it."""
import ctypes
import os
import platform
import resource
import signal
import struct

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 18, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38

SYS = {"x86_64": {"pivot_root": 155, "capset": 126},
       "aarch64": {"pivot_root": 41, "capset": 91}}.get(platform.machine(), {})
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446

LIBC = ctypes.CDLL(None, use_errno=True)


class SandboxUnavailable(Exception):
    """This host cannot contain a worker; the message says why, in one line."""


def call(result, what):
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def unshare(flags):
    call(LIBC.unshare(ctypes.c_int(flags)), "unshare")


def mount(source, target, fstype, flags, data=None):
    enc = (lambda s: None if s is None else str(s).encode())
    call(LIBC.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
          f"mount {target}")


def umount(target, flags=0):
    call(LIBC.umount2(str(target).encode(), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new, old):
    call(LIBC.syscall(ctypes.c_long(SYS["pivot_root"]), str(new).encode(), str(old).encode()), "pivot_root")


def prctl(option, arg):
    call(LIBC.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0),
                      ctypes.c_ulong(0)), f"prctl {option}")


def drop_capabilities():
    """Empty the effective, permitted and inheritable sets (capset, _LINUX_CAPABILITY_VERSION_3)."""
    header = struct.pack("Ii", 0x20080522, 0)
    data = bytes(24)  # two __user_cap_data_struct {effective, permitted, inheritable}, all zero
    call(LIBC.syscall(ctypes.c_long(SYS["capset"]), header, data), "capset")


def set_limits(limits):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_DATA, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing the worker


def close_fds(keep):
    """Close every descriptor above 2 except ``keep`` (close_range: no need to list /proc)."""
    low = 3
    for fd in sorted(f for f in keep if f >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def die_with_parent():
    """SIGKILL this process when the process that forked it ends."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def kill_group(pid):
    """SIGKILL a worker's process group and the worker itself."""
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except (ProcessLookupError, PermissionError):
            pass


#: What a worker keeps of the grader's environment: how TensorFlow, matplotlib and the thread pools behave, and
#: the locale. Nothing else (tokens, keys, the instructor's paths) reaches student code.
KEPT_ENVIRONMENT = ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "MPLBACKEND", "OMP_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "LANG", "LC_ALL")


def reset_environment(home, tmp):
    """Replace the inherited environment with a minimal one for student code."""
    kept = {name: os.environ[name] for name in KEPT_ENVIRONMENT if name in os.environ}
    os.environ.clear()
    os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(tmp),
                       "MPLCONFIGDIR": f"{home}/.matplotlib", "USER": "student", "LOGNAME": "student", **kept})

