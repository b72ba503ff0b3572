"""A seccomp filter, in every mode: the kernel calls student code has no use for fail with EPERM.

Built with libseccomp (through ``pyseccomp``, a ctypes binding with the API of libseccomp's own Python
bindings), never with hand-written BPF: libseccomp resolves the syscall numbers of this architecture, kills a
call made through another architecture's table (x86-64's 32-bit entry points), and generates the program.

Denied, whatever the mode:

* reading or writing another process: ``ptrace``, ``process_vm_readv``, ``process_vm_writev``;
* the kernel's keyrings, which outlive a process and are kept per uid: ``keyctl``, ``add_key``, ``request_key``;
* kernel attack surface no notebook needs: ``bpf``, ``userfaultfd``, ``perf_event_open``, ``io_uring_*``;
* mounts and namespaces: ``mount``, ``umount2``, ``pivot_root``, the new mount API, ``unshare``, ``setns``, and
  ``clone`` with a namespace flag (``clone3``, whose flags a filter cannot read, says ENOSYS, so the C library
  falls back to ``clone``); ``kexec_load`` and ``kexec_file_load``.

Where the worker has no network namespace of its own (the uid fallback, the single-submission container, no
sandbox), a new socket of any family but AF_UNIX is denied too: that is its only barrier to the network.
"""
import errno

#: The calls denied outright.
DENIED = ("ptrace", "process_vm_readv", "process_vm_writev", "keyctl", "add_key", "request_key", "bpf",
          "userfaultfd", "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register", "mount",
          "umount2", "pivot_root", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
          "mount_setattr", "unshare", "setns", "kexec_load", "kexec_file_load", "pidfd_getfd")
#: clone(2) flags that make a namespace (linux/sched.h): CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID,
#: NEWNET.
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
AF_UNIX = 1


def binding():
    """The libseccomp binding; raises ImportError or RuntimeError (no libseccomp.so.2) with the reason."""
    import pyseccomp
    return pyseccomp


def available():
    """'' when a filter can be installed here, else why not (one line)."""
    try:
        binding()
    except (ImportError, RuntimeError, OSError) as e:
        return f"seccomp is unavailable ({e}; the grader needs pyseccomp and the system's libseccomp2)"
    return ""


def install(network):
    """Load the filter into this process (and so into everything it starts); ``network``: the worker has a
    network namespace of its own, so sockets of any family stay allowed. Sets no_new_privs."""
    sc = binding()
    eperm = sc.ERRNO(errno.EPERM)
    f = sc.SyscallFilter(sc.ALLOW)
    for name in DENIED:
        f.add_rule(eperm, name)
    for flag in NAMESPACE_FLAGS:
        f.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    if not network:
        f.add_rule(eperm, "socket", sc.Arg(0, sc.NE, AF_UNIX))
    f.load()
