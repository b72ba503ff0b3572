"""What this container lets a root grader do, each answer with the errno the kernel (or seccomp) gave.

Run inside the grading container (any Python 3, standard library only); prints one JSON object. The container
test runs it once per setting, next to the submissions, so a setting that grades "unavailable" comes with the
exact call that was refused. It makes the same calls as autograder/worker/sandbox but does not import it: it
reports what the host allows, whatever the sandbox code does with it. x86_64 and aarch64 syscall numbers.
"""
import ctypes
import errno
import json
import os
import platform

LIBC = ctypes.CDLL(None, use_errno=True)
NEWNS, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET = 0x20000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000
SYS_LANDLOCK_CREATE_RULESET = {"x86_64": 444, "aarch64": 444}.get(platform.machine())


def outcome(fn):
    """'ok' (or the call's value) or the errno's name, from a forked child so nothing here changes."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            value = fn()
            msg = "ok" if value in (None, 0) else f"ok ({value})"
        except OSError as e:
            msg = errno.errorcode.get(e.errno, str(e.errno))
        except BaseException as e:  # noqa: BLE001
            msg = f"{type(e).__name__}: {e}"
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        msg = f.read()
    os.waitpid(pid, 0)
    return msg or "the child died"


def checked(ret, name):
    if ret < 0:
        raise OSError(ctypes.get_errno(), name)
    return ret


def unshare(flags):
    return lambda: checked(LIBC.unshare(ctypes.c_int(flags)), "unshare")


def landlock_abi():
    if SYS_LANDLOCK_CREATE_RULESET is None:
        raise OSError(errno.ENOSYS, "no syscall number here")
    return checked(LIBC.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                                ctypes.c_uint(1)), "landlock_create_ruleset")


def cgroup_mkdir():
    path = "/sys/fs/cgroup/memory/nf-probe" if os.path.isdir("/sys/fs/cgroup/memory") else "/sys/fs/cgroup/nf-probe"
    os.mkdir(path)
    os.rmdir(path)


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def status(key):
    for line in read("/proc/self/status").splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    return None


def main():
    report = {
        "euid": os.geteuid(),
        "cap_eff": status("CapEff"),
        "seccomp": status("Seccomp"),
        "kernel": platform.release(),
        # The grader's call as root (autograder/worker/sandbox enter_namespaces), then the same with a user namespace.
        "unshare(ns|pid|net|ipc|uts)": outcome(unshare(NEWNS | NEWPID | NEWNET | NEWIPC | NEWUTS)),
        "unshare(user|ns|pid|net|ipc|uts)": outcome(unshare(NEWUSER | NEWNS | NEWPID | NEWNET | NEWIPC | NEWUTS)),
        "unshare(user)": outcome(unshare(NEWUSER)),
        "landlock_create_ruleset(version)": outcome(landlock_abi),
        "cgroup mkdir": outcome(cgroup_mkdir),
        "memory.limit_in_bytes": read("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        "max_user_namespaces": read("/proc/sys/user/max_user_namespaces"),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
