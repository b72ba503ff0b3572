"""Cgroups of a worker (root only; v1 hierarchies or a delegated v2 subtree): ``pids.max`` and a memory cap
that counts the worker's tmpfs pages. Without them, ``RLIMIT_NPROC``, ``RLIMIT_DATA`` and the tmpfs sizes bound
it (``kernel.set_limits``)."""
import os
import signal
import time
from pathlib import Path


def cgroup_dirs(name):
    """{controller: directory} of a new cgroup ``name`` under this process's own cgroup, per controller."""
    mounts, own = {}, {}
    try:
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[sep + 3].split(",")
            if fstype == "cgroup":
                for c in ("pids", "memory"):
                    if c in options:
                        mounts[c] = fields[4]
            elif fstype == "cgroup2":
                mounts.setdefault("unified", fields[4])
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in (controllers.split(",") if controllers else ["unified"]):
                own[c] = path
    except (OSError, ValueError):
        return {}
    dirs = {}
    for c in ("pids", "memory"):
        if c in mounts and c in own:
            dirs[c] = Path(mounts[c] + own[c]) / name
    if len(dirs) < 2 and "unified" in mounts and "unified" in own:
        base = Path(mounts["unified"] + own["unified"])
        try:
            enabled = (base / "cgroup.subtree_control").read_text().split()
        except OSError:
            enabled = []
        for c in ("pids", "memory"):
            if c in enabled and c not in dirs:
                dirs[c] = base / name
    return dirs


def cgroup_name(pid):
    return f"nf-grader-worker-{pid}"


def cgroup_create(pid, limits):
    """Make the worker's cgroups and set their caps; return the controllers that took effect."""
    if os.geteuid() != 0:
        return []
    done = []
    for controller, path in cgroup_dirs(cgroup_name(pid)).items():
        try:
            path.mkdir(exist_ok=True)
            if controller == "pids":
                (path / "pids.max").write_text(str(limits["processes"]))
            elif (path / "memory.max").exists():
                (path / "memory.max").write_text(str(limits["memory_bytes"]))
                if (path / "memory.swap.max").exists():
                    (path / "memory.swap.max").write_text("0")
            else:
                (path / "memory.limit_in_bytes").write_text(str(limits["memory_bytes"]))
                try:  # keep swap out of it where the kernel accounts swap
                    (path / "memory.memsw.limit_in_bytes").write_text(str(limits["memory_bytes"]))
                except OSError:
                    pass
            done.append(controller)
        except OSError:
            continue
    return done


def sweep_stale_cgroups():
    """Remove worker cgroups whose worker is gone (left by a zygote killed before it cleaned up). A cgroup
    that still holds a process cannot be removed, so a live worker of another grader is never touched."""
    if os.geteuid() != 0:
        return
    for path in set(cgroup_dirs("x").values()):
        for stale in path.parent.glob(cgroup_name("*")):
            try:
                os.kill(int(stale.name.rsplit("-", 1)[1]), 0)
            except ProcessLookupError:
                try:
                    stale.rmdir()
                except OSError:
                    pass
            except (OSError, ValueError):
                pass


def cgroup_join(pid):
    for path in set(cgroup_dirs(cgroup_name(pid)).values()):
        try:
            (path / "cgroup.procs").write_text("0")
        except OSError:
            pass


def cgroup_remove(pid, seconds=2.0):
    """Kill whatever is left in the worker's cgroups and remove them; False if one is still busy."""
    end = time.monotonic() + seconds
    removed = True
    for path in set(cgroup_dirs(cgroup_name(pid)).values()):
        while path.exists():
            try:
                for p in (path / "cgroup.procs").read_text().split():
                    try:
                        os.kill(int(p), signal.SIGKILL)
                    except OSError:
                        pass
                path.rmdir()
            except OSError:
                if time.monotonic() > end:
                    removed = False
                    break
                time.sleep(0.01)
    return removed
