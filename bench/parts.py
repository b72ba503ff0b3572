"""The benchmark's measurements, each run in a fresh process: ``python -m bench.parts NAME [ARGS]``.

Each part prints one JSON object as its last line of output. Timings are wall-clock seconds on this
machine; ``bench/__main__.py`` turns them into ratios measured in the same run.
"""
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import course_config  # noqa: E402
from autograder import course, grade, notebooks, reference  # noqa: E402
from autograder.submissions import extract  # noqa: E402

ASSIGNMENT = "normalising_flows"


def _proc_kib(pid, field, name="status"):
    """A ``kB`` field of /proc/PID/status (VmHWM, VmRSS) or smaps_rollup (Pss), in MiB."""
    with open(f"/proc/{pid}/{name}") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return None


def floor():
    """The checks alone, on the solutions' objects in this process: no worker, no notebook cells."""
    namespace = reference.solution_namespace(ASSIGNMENT)
    ask = course.protocol(ASSIGNMENT).local_asker(namespace)
    values = reference.load_reference(ASSIGNMENT)
    times, outcomes = [], {}
    for _ in range(5):
        started = time.perf_counter()
        outcomes = grade.run_checks(ASSIGNMENT, ask, values)
        times.append(time.perf_counter() - started)
    failed = sorted(t for t, c in outcomes.items() if c.status != "passed")
    return {"checks_seconds": statistics.median(times), "runs": times, "failed": failed}


def memory():
    """Peak resident memory of one worker grading the solutions, of the grader, and of the zygote."""
    from autograder.worker.client import Worker
    from autograder.worker.zygote import Zygote
    nb = notebooks.read(course.solution_notebook(ASSIGNMENT))
    sources, _ = extract.student_code(nb, ASSIGNMENT)
    with Zygote() as zygote:
        with Worker(zygote, sources, ASSIGNMENT, course_config.GRADING,
                    course_config.PROTOCOL_MODULES[ASSIGNMENT]) as worker:
            worker.start()
            ask = grade._asker(ASSIGNMENT, worker)
            outcomes = grade.run_checks(ASSIGNMENT, ask, reference.load_reference(ASSIGNMENT))
            pids = {"worker": worker.pid, "zygote": zygote.pid, "grader": os.getpid()}
            peak = {name: _proc_kib(pid, "VmHWM") for name, pid in pids.items()}
            pss = {name: _proc_kib(pid, "Pss", "smaps_rollup") for name, pid in pids.items()}
    return {"peak_rss_mib": peak, "pss_mib_after_checks": pss, "pss_total_mib": sum(pss.values()),
            "all_passed": all(c.status == "passed" for c in outcomes.values())}


def training(steps, repeats):
    """The notebook's AffineCouplingLayer flow against tfb.RealNVP: same conditioner, data, optimiser, steps."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_probability as tfp
    import tf_keras as tfk
    from sklearn.datasets import make_moons
    tfd, tfb = tfp.distributions, tfp.bijectors
    ns = reference.solution_namespace(ASSIGNMENT)  # the solutions' AffineCouplingLayer and conditioner
    make_net, coupling = ns["make_shift_and_log_scale_fn"], ns["AffineCouplingLayer"]
    n_layers, hidden, batch_size = 6, (64, 64), 256
    train = make_moons(n_samples=10000, noise=0.05, random_state=0)[0].astype("float32")
    valid = make_moons(n_samples=2000, noise=0.05, random_state=1)[0].astype("float32")

    def notebook_flow():
        nets, layers = [], []
        for i in range(n_layers):
            nets.append(make_net(2, hidden))
            layers.append(coupling(nets[-1], np.array([1., 0.] if i % 2 == 0 else [0., 1.], "float32")))
        return nets, tfb.Chain(list(reversed(layers)))

    def tfp_flow():
        # RealNVP's conditioner sees the masked half only (one coordinate) and outputs the other half;
        # num_masked=-1 masks the last coordinate, which alternates the roles as the notebook's masks do.
        nets, layers = [], []
        for i in range(n_layers):
            net = make_net(1, hidden)
            nets.append(net)
            layers.append(tfb.RealNVP(num_masked=1 if i % 2 == 0 else -1,
                                      shift_and_log_scale_fn=lambda x0, units, net=net: tuple(net(x0))))
        return nets, tfb.Chain(list(reversed(layers)))

    def run(build, seed):
        tfk.utils.set_random_seed(seed)
        nets, bijector = build()
        flow = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(loc=tf.zeros(2)), bijector)
        variables = [v for net in nets for v in net.trainable_variables]
        schedule = tfk.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps, alpha=0.05)
        optimizer = tfk.optimizers.Adam(learning_rate=schedule)

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                loss = -tf.reduce_mean(flow.log_prob(x))
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        rng = np.random.default_rng(seed)
        batches = [train[rng.choice(len(train), batch_size, replace=False)] for _ in range(steps)]
        step(batches[0]).numpy()  # trace outside the timing
        chunks = []  # seconds per step over chunks of 100 steps: the median resists a noisy neighbour
        for start in range(1, steps, 100):
            started = time.perf_counter()
            for x in batches[start:start + 100]:
                loss = step(x)
            loss.numpy()
            chunks.append((time.perf_counter() - started) / len(batches[start:start + 100]))
        seconds = statistics.median(chunks)
        nll = float(-tf.reduce_mean(flow.log_prob(valid)))
        return {"step_ms": 1000 * seconds, "valid_nll": nll,
                "parameters": int(sum(np.prod(v.shape) for v in variables))}

    results = {"notebook": [], "tfp_realnvp": []}
    builders = [("notebook", notebook_flow), ("tfp_realnvp", tfp_flow)]
    for r in range(repeats):  # interleaved, first one then the other first, so drift hits both alike
        for name, build in (builders if r % 2 == 0 else builders[::-1]):
            results[name].append(run(build, r))
    return {"steps": steps, "batch_size": batch_size, "repeats": repeats, **results}


def sandbox_startup(n=30):
    """Milliseconds to start and to stop one worker (a one-line notebook) in each containment this host
    offers, against no containment: the difference is the sandbox's own cost per worker."""
    from autograder.worker import sandbox
    from autograder.worker.client import Worker
    from autograder.worker.zygote import Zygote
    modes = ["none"]
    for mode in ("namespaces", "uid"):
        try:
            modes.append(sandbox.detect(force=mode))
        except sandbox.SandboxUnavailable:
            pass
    out = {}
    for mode in modes + ["none"]:  # "none" again at the end, so drift shows
        starts, stops = [], []
        with Zygote(mode=mode) as zygote:
            for _ in range(n):
                worker = Worker(zygote, ["x = 1"], ASSIGNMENT, course_config.GRADING,
                                course_config.PROTOCOL_MODULES[ASSIGNMENT])
                started = time.perf_counter()
                worker.start()
                ready = time.perf_counter()
                worker.stop()
                starts.append(ready - started)
                stops.append(time.perf_counter() - ready)
        out.setdefault(mode, []).append({"start_ms": 1000 * statistics.median(starts),
                                         "stop_ms": 1000 * statistics.median(stops)})
    base = statistics.mean(r["start_ms"] + r["stop_ms"] for r in out["none"])
    return {"workers_per_mode": n, "modes": out,
            "overhead_ms": {m: out[m][0]["start_ms"] + out[m][0]["stop_ms"] - base for m in modes if m != "none"}}


def latency(n=20, window=60):
    """Submit-to-feedback seconds under ``watch --exchange``: ``n`` submissions (``bench``'s mix) land in the
    exchange's inbound folder evenly over ``window`` seconds, each written as nbgrader's submit writes one (the
    notebook, timestamp.txt, then submission_secret.txt), and each is timed from its secret, the moment it is
    whole, to its feedback page in the exchange's feedback folder (the file ``fetch_feedback`` copies)."""
    import datetime as dt
    import hashlib
    import math
    import signal
    import subprocess
    import tempfile
    import threading
    from pathlib import Path
    import nbformat
    from bench.__main__ import mixed_submissions
    mix = list(mixed_submissions().values())
    with tempfile.TemporaryDirectory(prefix="nf-latency-") as tmp:
        inbound = Path(tmp) / "exchange" / course_config.COURSE_ID / "inbound"
        inbound.mkdir(parents=True)
        proc = subprocess.Popen([sys.executable, "-m", "autograder", "watch", str(inbound), "--exchange", "--out",
                                 str(Path(tmp) / "out")], cwd=course_config.ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        for line in proc.stderr:
            if "ready" in line:
                break
        else:
            raise RuntimeError("watch did not start: " + str(proc.wait()))
        startup = time.monotonic() - started
        for stream in (proc.stdout, proc.stderr):
            threading.Thread(target=stream.read, daemon=True).start()
        landed, pages, done, t0 = {}, {}, {}, time.time()
        while len(done) < n and time.time() - t0 < window + 900:
            while len(landed) < n and time.time() - t0 >= len(landed) * window / n:
                name, nb = f"s{len(landed):02d}", mix[len(landed) % len(mix)]
                stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
                folder = inbound / f"{name}+{ASSIGNMENT}+{stamp}+r"
                folder.mkdir()
                nbformat.write(notebooks.apply_parameters(nb, course_config.SHORT_BUDGET[ASSIGNMENT]),
                               str(folder / f"{ASSIGNMENT}.ipynb"))
                (folder / "timestamp.txt").write_text(stamp)
                secret = os.urandom(32).hex()
                (folder / "submission_secret.txt").write_text(secret)
                landed[name] = time.time()
                pages[name] = inbound.parent / course_config.FEEDBACK_DIR / (
                    hashlib.md5((secret + ASSIGNMENT).encode()).hexdigest() + ".html")
            for name, page in pages.items():
                if name not in done and page.exists():
                    done[name] = time.time() - landed[name]
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    seconds = sorted(done.values())
    return {"submissions": n, "window_seconds": window, "delivered": len(seconds), "startup_seconds": startup,
            "p50_seconds": statistics.median(seconds), "p95_seconds": seconds[math.ceil(0.95 * len(seconds)) - 1],
            "max_seconds": seconds[-1], "seconds": [round(s, 2) for s in seconds], "exit_status": code,
            "jobs": len(os.sched_getaffinity(0))}


def path(argv):
    """One submission's path through the grader's modules (``bench/trace.py``), from ``batch.grade_file``:
    ``python -m bench.parts path SUBMISSION [--assignment A] [--warm]``. ``--warm`` grades it once untraced
    first, so the trace shows a submission of a batch (the course model and the release already read) rather
    than a process's first one."""
    import argparse
    from autograder import batch
    from bench.trace import PathTrace
    parser = argparse.ArgumentParser(prog="python -m bench.parts path")
    parser.add_argument("submission")
    parser.add_argument("--assignment")
    parser.add_argument("--warm", action="store_true")
    args = parser.parse_args(argv)
    if args.warm:
        batch.grade_file(args.submission, args.assignment)
    with PathTrace(args.submission) as trace:
        result = batch.grade_file(args.submission, args.assignment)
    out = trace.summary()
    out["result"] = {"status": result.status, "auto_score": result.auto_score, "auto_max": result.auto_max}
    out["warm"] = args.warm
    for level, what in (("sites", "entries, one per call site and callee (a loop is one)"),
                        ("entries", "entries, every call")):
        c = out[level]
        print(f"{c['modules']} modules, {c['entries']} {what}, {c['returns']} returns to a module it had left; "
              f"per module: {', '.join(f'{m} {n}' for m, n in c['per_module'].items())}", file=sys.stderr)
    print("reads of the submission: " + ", ".join(f"{k} {v}" for k, v in out["reads"].items()), file=sys.stderr)
    print("path: " + " > ".join(out["sequence"]), file=sys.stderr)
    return out


if __name__ == "__main__":
    name = sys.argv[1]
    if name == "path":
        out = path(sys.argv[2:])
    else:
        args = [int(a) for a in sys.argv[2:]]
        out = {"floor": floor, "memory": memory, "training": training, "sandbox": sandbox_startup,
               "latency": latency}[name](*args)
    print(json.dumps(out))
