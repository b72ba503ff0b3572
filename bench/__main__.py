"""make bench: python -m bench [--steps N] [--repeats N] [--jobs N]

Measures, side by side in one run on this machine:

1. batch throughput: ``python -m autograder batch`` against ``nbgrader autograde`` with nbgrader's own kernel
   executor (``nbgrader_path.IN_KERNEL``; course_config.py grades through our worker instead) on the same 20
   submissions (7 complete, 7 with catalogued mistakes, 6 untouched), both at the short training budget,
   with the per-test-cell scores of the two compared;
2. the marginal cost of one more correct submission in a batch, against the floor: the checks alone on the
   solutions' objects in one process;
3. peak memory of one worker, the grader and the zygote;
4. training step time and validation NLL of the notebook's coupling-layer flow against ``tfb.RealNVP``;
5. submit-to-feedback latency under ``watch --exchange``, p50 and p95, for 20 submissions landing within a minute;
6. a batch's fixed cost in CPU-s (the batches of correct submissions of 2., extrapolated to none), the ratio
   against nbgrader at 10 submissions as well as at 20, and a rerun with nothing to grade (wall time, and whether
   it imported TensorFlow, from ``python -X importtime``).

Writes bench/results.json and prints a table.
"""
import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import course_config
from autograder import batch
from autograder.authoring import examples
from autograder.integrations import nbgrader_path

ASSIGNMENT = "normalising_flows"
HERE = Path(__file__).resolve().parent
GOALS = {"marginal_seconds": 2.0, "step_time_ratio": 1.2, "nll_gap": 0.05,
         "worker_mib": 768, "sandbox_ms": 50, "sandbox_slowdown": 0.10, "latency_p95_seconds": 10.0,
         "throughput_ratio_10": 10.0, "throughput_ratio_20": 20.0, "fixed_cpu_seconds": 12.0, "rerun_seconds": 3.0}


def mixed_submissions():
    """20 submissions: 7 complete, 7 with two catalogued mistakes each (in different items), 6 untouched."""
    sol, rel = examples.notebook("solutions"), examples.notebook("release")
    by_item = {}
    for name, mistake in sorted(examples.MISTAKE_EDITS.items()):
        by_item.setdefault(mistake.grade_id, []).append(name)
    items = sorted(by_item)
    subs = {f"complete_{i}": sol for i in range(7)}
    for i in range(7):
        names = [by_item[items[(i + k) % len(items)]][i % len(by_item[items[(i + k) % len(items)]])]
                 for k in (0, 1)]
        subs[f"wrong_{i}_{'+'.join(names)}"] = examples.apply(sol, *(examples.MISTAKE_EDITS[n] for n in names))
    subs.update({f"untouched_{i}": rel for i in range(6)})
    return subs


def _seconds(fn, *args, **kwargs):
    started = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - started


def _cpu():
    """CPU-s (user + system) of every child process waited for so far, their own children included."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def ours(submitted, out, jobs, *extra):
    """``batch`` on ``submitted``: (wall seconds, {student: results.json}, CPU-s of the batch's processes)."""
    command = [sys.executable, "-m", "autograder", "batch", str(submitted), "--out", str(out), *extra]
    if jobs:
        command += ["--jobs", str(jobs)]
    cpu = _cpu()
    seconds = _seconds(subprocess.run, command, check=True, cwd=course_config.ROOT, stdout=subprocess.DEVNULL)
    rows = {p.parent.name: json.loads(p.read_text()) for p in (Path(out) / ASSIGNMENT).glob("*/results.json")}
    return seconds, rows, _cpu() - cpu


def rerun(submitted, out, runs=3):
    """``batch`` again on a graded folder, nothing changed: median wall seconds and CPU-s of ``runs`` runs, and
    the TensorFlow modules one more run imported (``-X importtime`` lists every module a process imports)."""
    timed = [ours(submitted, out, None) for _ in range(runs)]
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "autograder", "batch", str(submitted),
                           "--out", str(out)], cwd=course_config.ROOT, capture_output=True, text=True, check=True)
    return {"seconds": statistics.median(t[0] for t in timed), "cpu_seconds": statistics.median(t[2] for t in timed),
            "runs": runs, "tensorflow_modules_imported": len(tensorflow_modules(proc.stderr)),
            "graded": len(timed[0][1])}


def tensorflow_modules(importtime):
    """The TensorFlow modules named in ``python -X importtime``'s report (``import time: self | total | name``)."""
    return sorted({m.group(1) for m in re.finditer(r"^import time:.*\|\s*(tensorflow(?:\.\w+)*)\s*$", importtime,
                                                    re.M)})


def part(name, *args):
    """Run one measurement of bench/parts.py in a fresh process; return its JSON result."""
    proc = subprocess.run([sys.executable, "-m", "bench.parts", name, *map(str, args)], cwd=course_config.ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench part {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def throughput(tmp, jobs, every=1):
    """Both graders on the 20 mixed submissions (every ``every``-th of them: 10 for 2)."""
    subs = dict(list(mixed_submissions().items())[::every])
    course = nbgrader_path.make_course(tmp / f"course_{len(subs)}", subs, ASSIGNMENT)
    submitted = course / course_config.SUBMITTED_DIR
    ours_seconds, rows, ours_cpu = ours(submitted, tmp / f"ours_{len(subs)}", jobs)
    setup = _seconds(nbgrader_path.nbgrader, course, "generate_assignment", ASSIGNMENT, "--force")
    theirs_seconds = _seconds(nbgrader_path.nbgrader, course, "autograde", ASSIGNMENT, "--force",
                              nbgrader_path.IN_KERNEL)  # nbgrader's own kernel executor, the baseline
    theirs = nbgrader_path.scores(course, ASSIGNMENT, subs)
    disagree = {}
    for student, result in rows.items():
        mine = {t["extra_data"]["grade_id"]: t["score"] for t in result["tests"]}
        other = {k: v for k, v in theirs[student].items() if k in mine}
        if mine != other:
            disagree[student] = {k: (mine[k], other.get(k)) for k in mine if mine[k] != other.get(k)}
    n = len(subs)
    kinds = {kind: sum(name.startswith(prefix) for name in subs)
             for kind, prefix in (("complete", "complete_"), ("catalogued_mistakes", "wrong_"), ("untouched", "untouched_"))}
    return {"submissions": n, "kinds": kinds, "jobs": jobs or batch.default_jobs(), "submitted": str(submitted),
            "ours_seconds": ours_seconds, "ours_cpu_seconds": ours_cpu, "nbgrader_seconds": theirs_seconds,
            "nbgrader_generate_assignment_seconds": setup,
            "ours_per_minute": 60 * n / ours_seconds, "nbgrader_per_minute": 60 * n / theirs_seconds,
            "ratio": theirs_seconds / ours_seconds, "score_disagreements": disagree, "out": str(tmp / f"ours_{n}"),
            "scores": {s: r["score"] for s, r in sorted(rows.items())}}


def sandbox_throughput(tmp, jobs, rounds=2):
    """The 20 submissions graded with the sandbox and with --unsafe-no-sandbox, interleaved: what
    containment costs a whole batch (same code, same machine, same minutes)."""
    submitted = tmp / "sandbox_mix"
    for name, nb in mixed_submissions().items():
        examples.write_submission(submitted, name, nb)
    times = {"contained": [], "unsafe": []}
    for r in range(rounds):
        for kind in (("contained", "unsafe") if r % 2 == 0 else ("unsafe", "contained")):
            extra = ["--unsafe-no-sandbox"] if kind == "unsafe" else []
            env_mode = {"unsafe": "none"}.get(kind)
            if env_mode:
                os.environ["NF_GRADER_SANDBOX"] = env_mode
            try:
                times[kind].append(ours(submitted, tmp / f"sandbox_mix_{kind}_{r}", jobs, *extra)[0])
            finally:
                os.environ.pop("NF_GRADER_SANDBOX", None)
    contained, unsafe = statistics.median(times["contained"]), statistics.median(times["unsafe"])
    return {"seconds": times, "contained_per_minute": 60 * 20 / contained, "unsafe_per_minute": 60 * 20 / unsafe,
            "slowdown": contained / unsafe - 1}


def marginal(tmp, jobs, small=4, large=12):
    """(T(large) - T(small)) / (large - small) for batches of correct submissions: the start-up cancels."""
    sol = examples.notebook("solutions")
    times, cpu = {}, {}
    for n in (small, large):
        submitted = tmp / f"correct_{n}"
        for i in range(n):
            examples.write_submission(submitted, f"s{i:02d}", sol)
        seconds, _, cpu[n] = ours(submitted, tmp / f"correct_{n}_graded", jobs)
        times[n] = seconds
    per_submission_cpu = (cpu[large] - cpu[small]) / (large - small)
    return {"batch_seconds": times, "marginal_seconds": (times[large] - times[small]) / (large - small),
            "batch_cpu_seconds": cpu, "marginal_cpu_seconds": per_submission_cpu,
            "fixed_cpu_seconds": cpu[small] - small * per_submission_cpu}  # the line through both, at none


def table(results):
    t, m, f, mem, tr = (results[k] for k in ("throughput", "marginal", "floor", "memory", "training"))
    sb, st = results["sandbox"], results["sandbox_throughput"]
    nb = {k: statistics.median(r[k] for r in tr["notebook"]) for k in ("step_ms", "valid_nll")}
    tfp = {k: statistics.median(r[k] for r in tr["tfp_realnvp"]) for k in ("step_ms", "valid_nll")}
    rows = []
    for t in [results[k] for k in ("throughput_10", "throughput") if k in results]:
        goal = GOALS[f"throughput_ratio_{t['submissions']}"]
        rows += [(f"batch throughput at {t['submissions']} (subs/min)",
                  f"{t['ours_per_minute']:.1f} vs nbgrader {t['nbgrader_per_minute']:.1f}", f"{t['ratio']:.1f}x",
                  f">= {goal:g}x", t["ratio"] >= goal),
                 (f"same scores as nbgrader at {t['submissions']}",
                  f"{t['submissions'] - len(t['score_disagreements'])}/{t['submissions']}", "", "all",
                  not t["score_disagreements"])]
    t = results["throughput"]
    rows += [
        ("fixed cost of a batch (CPU-s)", f"{m['fixed_cpu_seconds']:.1f}",
         f"+{m['marginal_cpu_seconds']:.1f} CPU-s per correct submission", f"<= {GOALS['fixed_cpu_seconds']:g}",
         m["fixed_cpu_seconds"] <= GOALS["fixed_cpu_seconds"]),
        ("marginal s / correct submission", f"{m['marginal_seconds']:.2f} s ({t['jobs']} slots)",
         f"{m['marginal_seconds'] / f['checks_seconds']:.1f}x floor ({f['checks_seconds']:.2f} s)",
         f"<= {GOALS['marginal_seconds']:g} s", m["marginal_seconds"] <= GOALS["marginal_seconds"]),
        ("sandbox cost per worker (ms)", ", ".join(f"{k} {v:.0f}" for k, v in sb["overhead_ms"].items()),
         "start+stop vs none", f"<= {GOALS['sandbox_ms']} ms",
         all(v <= GOALS["sandbox_ms"] for v in sb["overhead_ms"].values())),
        ("batch with vs without sandbox (subs/min)",
         f"{st['contained_per_minute']:.1f} vs {st['unsafe_per_minute']:.1f}", f"{100 * st['slowdown']:+.1f}%",
         f"<= {100 * GOALS['sandbox_slowdown']:g}% slower", st["slowdown"] <= GOALS["sandbox_slowdown"]),
        ("peak RSS worker / grader / zygote", " / ".join(f"{mem['peak_rss_mib'][k]:.0f}"
                                                           for k in ("worker", "grader", "zygote")) + " MiB",
         f"PSS total {mem['pss_total_mib']:.0f} MiB", f"worker < {GOALS['worker_mib']} MiB",
         mem["peak_rss_mib"]["worker"] < GOALS["worker_mib"]),
        ("train step (ms): notebook vs RealNVP", f"{nb['step_ms']:.2f} vs {tfp['step_ms']:.2f}",
         f"{nb['step_ms'] / tfp['step_ms']:.2f}x", f"<= {GOALS['step_time_ratio']:g}x",
         nb["step_ms"] / tfp["step_ms"] <= GOALS["step_time_ratio"]),
        (f"valid NLL after {tr['steps']} steps", f"{nb['valid_nll']:.3f} vs {tfp['valid_nll']:.3f}",
         f"gap {abs(nb['valid_nll'] - tfp['valid_nll']):.3f}", f"<= {GOALS['nll_gap']:g}",
         abs(nb["valid_nll"] - tfp["valid_nll"]) <= GOALS["nll_gap"]),
    ]
    if "rerun" in results:  # batch again on the graded 20: nothing to grade
        r = results["rerun"]
        rows.append(("rerun with nothing to grade", f"{r['seconds']:.2f} s ({r['cpu_seconds']:.1f} CPU-s)",
                     f"{r['tensorflow_modules_imported']} TensorFlow modules imported",
                     f"<= {GOALS['rerun_seconds']:g} s, no TensorFlow",
                     r["seconds"] <= GOALS["rerun_seconds"] and not r["tensorflow_modules_imported"]))
    if "latency" in results:  # watch: submit to feedback, 20 submissions landing within a minute
        lat = results["latency"]
        rows.append((f"submit-to-feedback p50 / p95 (watch, {lat['submissions']} in {lat['window_seconds']} s)",
                     f"{lat['p50_seconds']:.1f} / {lat['p95_seconds']:.1f} s", f"{lat['delivered']} delivered",
                     f"p95 <= {GOALS['latency_p95_seconds']:g} s", lat["p95_seconds"] <= GOALS["latency_p95_seconds"]
                     and lat["delivered"] == lat["submissions"]))
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    lines = [f"{'measure':<{widths[0]}}  {'measured':<{widths[1]}}  {'ratio':<{widths[2]}}  "
             f"{'goal':<{widths[3]}}  met"]
    for r in rows:
        lines.append("  ".join(f"{str(c):<{w}}" for c, w in zip(r[:4], widths)) + f"  {'yes' if r[4] else 'NO'}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--steps", type=int, default=2000, help="training steps per flow")
    parser.add_argument("--repeats", type=int, default=4, help="training runs per flow (interleaved)")
    parser.add_argument("--jobs", type=int, help="grading slots (default: the autograder's default)")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    args = parser.parse_args(argv)
    results = {"machine": {"cpus": len(os.sched_getaffinity(0)), "python": sys.version.split()[0]}}
    with tempfile.TemporaryDirectory(prefix="nf-bench-") as tmp:
        tmp = Path(tmp)
        print("grading 20 submissions with python -m autograder batch and with nbgrader autograde ...", flush=True)
        results["throughput"] = throughput(tmp, args.jobs)
        print("a rerun of that batch, with nothing to grade ...", flush=True)
        results["rerun"] = rerun(results["throughput"]["submitted"], results["throughput"]["out"])
        print("10 of the 20 with both graders ...", flush=True)
        results["throughput_10"] = throughput(tmp, args.jobs, every=2)
        print("marginal cost of a correct submission ...", flush=True)
        results["marginal"] = marginal(tmp, args.jobs)
        print("the same 20 submissions with and without the sandbox ...", flush=True)
        results["sandbox_throughput"] = sandbox_throughput(tmp, args.jobs)
    print("checks alone (the floor), memory, training ...", flush=True)
    results["sandbox"] = part("sandbox", 30)
    results["floor"] = part("floor")
    results["memory"] = part("memory")
    results["training"] = part("training", args.steps, args.repeats)
    print("submit-to-feedback latency under watch --exchange ...", flush=True)
    results["latency"] = part("latency", 20, 60)
    results["goals"] = GOALS
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
