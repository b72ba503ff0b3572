"""What a worker sees of the filesystem: a fresh tmpfs root with read-only binds of the system, the interpreter,
the venv and the assignment's support files, size-capped scratch tmpfs for ``/tmp``, ``/dev/shm`` and its home,
and a fresh ``/proc``. Built the way bubblewrap builds one: a tmpfs becomes the new root, the old root stays
reachable until the binds are done, then it is detached for good."""
import os
import sys
from pathlib import Path

from autograder.worker.sandbox.kernel import (
    MNT_DETACH,
    MS_BIND,
    MS_NOATIME,
    MS_NODEV,
    MS_NODIRATIME,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    mount,
    pivot_root,
    umount,
)

SUPPORT_INSIDE, HOME_INSIDE = "/course", "/home/student"


def _under(path, roots):
    return any(path == r or r in path.parents for r in roots)


def readable_roots(repo):
    """Host directories the worker reads: the system, the interpreter, the venv and its site dirs.

    Nothing of the repo ``repo`` is among them, except a venv that lives inside it.
    """
    repo, venv = Path(repo).resolve(), Path(sys.prefix).resolve()
    roots = []
    for p in _interpreter_paths():
        path = Path(p).resolve()
        if not path.is_dir() or _under(path, roots):
            continue
        if _under(path, [repo]) and not _under(path, [venv]):
            continue
        roots = [r for r in roots if not _under(r, [path])] + [path]
    return roots


def _interpreter_paths():
    site = [p for p in sys.path if p and Path(p).name in ("site-packages", "dist-packages")]
    return ("/usr", sys.base_prefix, sys.prefix, sys.exec_prefix, *site)


def bound_paths(repo):
    """[(host path, path inside)] of what the worker's root binds: each of ``readable_roots`` where it is, and
    also under the path the interpreter knows it by, where that path goes through a symbolic link (a venv or a
    home reached through a link): modules the zygote imported before the fork name their files by that path,
    and a lazy import of a submodule (``matplotlib.backends.backend_agg``) looks there."""
    roots = readable_roots(repo)
    pairs = [(root, root) for root in roots]
    for p in _interpreter_paths():
        spelled = Path(os.path.abspath(p))
        real = spelled.resolve()
        aliases = [target for _, target in pairs[len(roots):]]
        if spelled == real or not _under(real, roots) or _under(spelled, roots + aliases):
            continue  # no link on the way, not a root of ours, or in view already (a bound folder keeps its links)
        pairs.append((real, spelled))
    return pairs


def _mount_flags(path):
    """The flags a read-only remount of a bind at ``path`` must keep (the kernel locks them in a user ns)."""
    f = os.statvfs(path).f_flag
    flags = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME)):
        if f & st:
            flags |= ms
    return flags


def _bind(source, target, writable=False):
    if Path(source).is_dir():
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        Path(target).touch()
    mount(source, target, None, MS_BIND | MS_REC)
    if not writable:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | _mount_flags(target))


def _scratch(target, size, uid, gid, mode="0700"):
    os.makedirs(target, exist_ok=True)
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode},uid={uid},gid={gid}")


def build_root(plan, roots, uid, gid):
    """Make a fresh root: read-only system, interpreter, venv and support files (``roots``, the pairs of
    ``bound_paths``); private scratch tmpfs."""
    limits = plan.limits
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    # bubblewrap's way in: a tmpfs over /tmp becomes the new root, and the old root stays reachable at
    # /oldroot (with its own /tmp, since the tmpfs moved away from it) until the binds are done.
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    os.chdir("/tmp")
    os.mkdir("newroot")
    os.mkdir("oldroot")
    pivot_root(".", "oldroot")
    old, new = "/oldroot", "/newroot"
    mount(new, new, None, MS_BIND | MS_REC)  # pivot_root needs the new root to be a mount point
    # The private scratch space first, the binds after: a venv or an interpreter that lives under /tmp (a clone
    # of the course there) is then bound inside the private /tmp instead of being hidden by it.
    _scratch(f"{new}/tmp", limits["scratch_bytes"], uid, gid)
    _scratch(f"{new}{HOME_INSIDE}", limits["scratch_bytes"], uid, gid)
    for source, target in roots:
        _bind(old + str(source), new + str(target))
    for name in ("bin", "lib", "lib64", "sbin", "lib32", "libx32"):
        link = Path("/oldroot") / name
        if link.is_symlink():
            os.symlink(os.readlink(link), f"{new}/{name}")
        elif link.is_dir() and not (Path(new) / name).exists():
            _bind(str(link), f"{new}/{name}")
    if plan.support:
        _bind(old + plan.support, new + SUPPORT_INSIDE)
    # /etc: only what programs need to start, nothing of the host's accounts or network.
    os.makedirs(f"{new}/etc", exist_ok=True)
    for name in ("ld.so.cache", "localtime"):
        source = Path(f"{old}/etc/{name}")
        if source.is_symlink():  # e.g. localtime -> /usr/share/zoneinfo/..., which the /usr bind provides
            os.symlink(os.readlink(source), f"{new}/etc/{name}")
        elif source.is_file():
            _bind(str(source), f"{new}/etc/{name}")
    Path(f"{new}/etc/passwd").write_text(f"student:x:{uid}:{gid}:student:{HOME_INSIDE}:/bin/sh\n")
    Path(f"{new}/etc/group").write_text(f"student:x:{gid}:\n")
    Path(f"{new}/etc/hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")
    Path(f"{new}/etc/hostname").write_text("sandbox\n")
    # /dev: a few character devices, no host disks or terminals.
    os.makedirs(f"{new}/dev", exist_ok=True)
    mount("tmpfs", f"{new}/dev", "tmpfs", MS_NOSUID, "size=64k,mode=0755")
    for name in ("null", "zero", "full", "random", "urandom"):
        Path(f"{new}/dev/{name}").touch()
        mount(f"{old}/dev/{name}", f"{new}/dev/{name}", None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{new}/dev/{name}")
    _scratch(f"{new}/dev/shm", limits["scratch_bytes"], uid, gid)
    os.makedirs(f"{new}/proc", exist_ok=True)
    mount("proc", f"{new}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # Leave the old root behind for good, then make the new root itself read-only.
    umount(old, MNT_DETACH)
    os.chdir(new)
    pivot_root(".", ".")
    umount(".", MNT_DETACH)
    os.chdir("/")
    mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
