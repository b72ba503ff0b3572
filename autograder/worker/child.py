"""The worker: runs one submission's code inside its sandbox and answers narrow questions about it.

It runs the submission's code cells with Jupyter semantics, then answers requests from the grader, one JSON
line each (``autograder.worker.wire``). It never sees a reference value and never computes a verdict.

Output: the cells' printed output goes to the pipe the grader reads (capped). The grader stops keeping it when
this worker says it is ready, before it sends the first check, so nothing printed about the check inputs reaches
the feedback, whatever the student's code has patched here. While it answers the checks, its stdout and stderr
point at ``/dev/null`` as well.
"""
import importlib
import logging
import os
import sys

# Imported here, in the zygote: inside the sandbox the grader's files are out of reach.
from autograder.text import capped
from autograder.worker import execute, wire


def main(sock, out_w, support, limits):
    """Entered in the sandbox, as the worker's uid. ``support``: the read-only folder of the protocol module."""
    run_cells, dumps, loads, cap = execute.run_cells, wire.dumps, wire.loads, capped
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    os.close(out_w)
    buffer = wire.LineBuffer(limits["message_bytes"])
    setup = loads(wire.read_line(sock, buffer))

    # The grader's code is not the student's business, and no writable folder is on sys.path. The support files
    # (the protocol module and the modules it imports, checks_core among them) are imported from the support folder.
    shipped = {f[:-3] for f in os.listdir(support) if f.endswith(".py")} if support else set()
    for name in [m for m in sys.modules if m == "autograder" or m.startswith("autograder.")
                 or m in ("course_config", "checks_core", setup["protocol"]) or m in shipped]:
        del sys.modules[name]
    sys.path[:] = ([support] if support else []) + [p for p in sys.path if p and os.path.isdir(p)
                                                    and os.path.realpath(p) != os.path.realpath(os.getcwd())]
    protocol = importlib.import_module(setup["protocol"])
    answer, quiet, question_error = protocol.answer, protocol.quiet, protocol.QuestionError
    error_message = protocol.student_error_message

    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # TF's own warnings are not the student's output
    namespace = {"__name__": "__main__"}
    skip = set(setup.get("skip", ()))
    sources = ["pass" if i in skip else src for i, src in enumerate(setup["sources"])]

    def progress(i):  # lets the grader time each cell, and know which one was running if we die
        sys.stdout.flush()
        sock.sendall(dumps({"cell": i}))

    errors = run_cells(sources, namespace, capture=False, before_cell=progress)
    # What the questions may need to know of the cells: their code (a composed item runs its cell again with the
    # grader's parts) and which names a failed cell left undefined (reported with that cell's error).
    sys.modules["checks_core"].record_cells([execute.strip_magics(s) for s in sources], errors, namespace)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(null, 1)  # from here on, what the student's code prints goes nowhere
    os.dup2(null, 2)
    sock.sendall(dumps({"ready": True, "cell_errors": errors}))

    while True:
        line = wire.read_line(sock, buffer)
        if line is None:
            return
        try:
            with quiet():
                reply = {"value": answer(namespace, loads(line))}
        except question_error as e:
            reply = {"error": cap(str(e))}
        except BaseException as e:  # noqa: BLE001 (the student's code raised, even SystemExit)
            reply = {"error": cap(error_message(e))}  # a 50 MB message costs its text, not the worker
        try:
            data = dumps(reply)
        except TypeError as e:
            data = dumps({"error": f"the answer could not be sent back ({e})"})
        sock.sendall(data)
