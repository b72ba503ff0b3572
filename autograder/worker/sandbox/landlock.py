"""Landlock, for the uid fallback: read (and execute) only beneath the system, interpreter, venv and support
files, write only beneath the worker's own folder, no TCP, and (ABI 6) no signals or abstract unix sockets
leaving the domain."""
import ctypes
import os
import stat
import struct

from autograder.worker.sandbox.kernel import (
    LIBC,
    SYS_LANDLOCK_ADD_RULE,
    SYS_LANDLOCK_CREATE_RULESET,
    SYS_LANDLOCK_RESTRICT_SELF,
    SandboxUnavailable,
    call,
)

_FS_READ = (1 << 0) | (1 << 2) | (1 << 3)                       # execute, read file, read dir
_FS_ALL_V1 = (1 << 13) - 1
_FS_WRITE = _FS_ALL_V1 & ~_FS_READ


def landlock_abi():
    try:
        return call(LIBC.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                                   ctypes.c_uint(1)), "landlock_create_ruleset")
    except OSError:
        return 0


def landlock_ruleset(read, write):
    """A Landlock ruleset fd: read (and execute) beneath ``read``, everything beneath ``write``, no TCP,
    and (ABI 6) no signals or abstract unix sockets leaving the domain."""
    abi = landlock_abi()
    if abi < 1:
        raise SandboxUnavailable("Landlock is not available")
    handled_fs = _FS_ALL_V1 | (1 << 13 if abi >= 2 else 0) | (1 << 14 if abi >= 3 else 0) | \
        (1 << 15 if abi >= 5 else 0)
    handled_net = 0b11 if abi >= 4 else 0
    scoped = 0b11 if abi >= 6 else 0
    attr = struct.pack("QQQ", handled_fs, handled_net, scoped)
    size = 24 if abi >= 6 else (16 if abi >= 4 else 8)
    fd = call(LIBC.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), attr[:size], ctypes.c_size_t(size),
                             ctypes.c_uint(0)), "landlock_create_ruleset")
    for paths, access in ((read, _FS_READ), (write, handled_fs)):
        for p in paths:
            try:
                pfd = os.open(p, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            allowed = access if stat.S_ISDIR(os.fstat(pfd).st_mode) else access & ((1 << 0) | (1 << 1) | (1 << 2)
                                                                                    | (1 << 14) | (1 << 15))
            rule = struct.pack("=Qi", allowed & handled_fs, pfd)
            try:
                call(LIBC.syscall(ctypes.c_long(SYS_LANDLOCK_ADD_RULE), ctypes.c_int(fd), ctypes.c_int(1),
                                    rule, ctypes.c_uint(0)), f"landlock_add_rule {p}")
            finally:
                os.close(pfd)
    return fd


def restrict_self(ruleset):
    """Enter the Landlock domain of ``ruleset`` (needs no_new_privs set first)."""
    call(LIBC.syscall(ctypes.c_long(SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint(0)),
         "landlock_restrict_self")
