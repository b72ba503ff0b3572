"""The keeper: a worker's outer process, which runs no student code, outlives everything the submission starts, and
ends all of it.

Student code can clear its own parent-death signal, leave its process group, replace ``os._exit`` and fork
spinners, so nothing that runs it can be trusted to die on its own. The keeper is the zygote's child; it forks
the worker and waits. It ends the whole submission, with the mechanism of its mode (``end``), when

* the worker ends (the uid fallback's leftovers die then; in a PID namespace they died with its init),
* the grader asks it to (``stop``: SIGTERM), or
* the zygote dies (its parent-death signal is SIGTERM too, so a grader killed with SIGKILL, which takes its
  zygote along, still leaves nothing running).

Only then does it exit, the way the worker did, so once the zygote has reaped the keeper nothing of that
submission runs any more. Student code cannot reach the keeper: it sits outside the worker's PID namespace, or
(uid fallback) belongs to root.
"""
import os
import signal

from autograder.worker.sandbox.kernel import PR_SET_PDEATHSIG, close_fds, die_with_parent, prctl

STOP = signal.SIGTERM


class _Stop(Exception):
    pass


_stopping = []


def _raise_stop(signum, frame):
    if not _stopping:  # once: a second stop (the grader's, then its death) must not interrupt the first
        _stopping.append(signum)
        raise _Stop


def block_stop():
    """Called by the zygote around its fork: a stop sent before the keeper is ready stays pending."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {STOP})


def unblock_stop():
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {STOP})


def stop(keeper_pid):
    """Ask a keeper to end its submission (it exits once nothing of it runs)."""
    try:
        os.kill(keeper_pid, STOP)
    except ProcessLookupError:
        pass


def keep(enter, end):
    """Fork the worker (``enter()`` runs in it and never returns), wait, and exit as the worker did, leaving
    nothing running. ``end(pid)`` kills the worker ``pid`` and whatever dies with it; ``end(None)``, called
    once the worker is reaped, kills what its mode lets outlive it. Entered with STOP blocked (``block_stop``);
    never returns."""
    signal.signal(STOP, _raise_stop)
    prctl(PR_SET_PDEATHSIG, STOP)
    pid = os.fork()
    if pid == 0:
        signal.signal(STOP, signal.SIG_IGN)
        die_with_parent()
        unblock_stop()
        enter()
        os._exit(70)
    close_fds(set())  # the worker's socket and output pipe: the grader sees their end when the worker's ends
    ended = False
    while not ended:
        try:
            unblock_stop()  # a stop that came before now arrives here
            _wait_for_end(pid)
            ended = True
        except _Stop:
            end(pid)
    block_stop()
    status = _reap(pid)  # with STOP blocked: no handler can interrupt it and lose the worker's exit status
    end(None)  # what the worker left behind, if its mode lets anything outlive it
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):  # their handlers cannot be set (OSError): always default
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 70)


def _wait_for_end(pid):
    """Return once the worker has ended, leaving it waitable (``WNOWAIT``): a stop that arrives just after this
    returned raises in the keeper, and the worker's exit status is still there for ``_reap``. (Reaping here, a
    stop raised between the reaping and the return lost the status, and a worker that called ``os._exit(3)`` was
    reported as having exited with code 0.)"""
    while True:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            return
        except InterruptedError:
            continue
        except ChildProcessError:
            return


def _reap(pid):
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return 0
