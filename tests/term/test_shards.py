"""Past one machine: a batch graded as N shards (``batch --shard K/N``, each a separate process with its own output
folder) and combined (``merge-shards``) gives the outputs one batch gives, byte for byte where they are
deterministic; shards that do not belong together are refused in one line, before anything is written; and the
Kubernetes Indexed Job runs one shard per completion index."""
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import cli

import course_config
from autograder import shards
from autograder import store as storage

A = "normalising_flows"
ROOT = course_config.ROOT
K8S = ROOT / "packaging" / "k8s"


def _files(out):
    """{relative path: bytes} of everything a batch rendered and recorded under ``out``."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _verdict(data):
    """A results.json or record without what differs between two runs of the same notebook: the execution time
    and the student's printed output (a cell may print an unseeded random tensor), which the feedback text in
    ``output`` quotes (the feedback pages are compared on their own)."""
    data = json.loads(data)
    data.pop("execution_time")
    data.pop("output")
    data["extra_data"].pop("cell_output")
    return data


@pytest.fixture(scope="module")
def graded(term_batch, tmp_path_factory):
    """The session's term batch (``conftest.term_batch``: complete, partly wrong, untouched, a notebook of the other
    assignment, a student who submitted nothing and one whose notebook is not JSON), graded once as one batch
    (two slots), and again as 3 shards (one slot each) run at the same time as separate processes, then merged.
    The names fall in all three shards of 3 (asserted here, from the split's own definition: sha256 of the name
    modulo 3)."""
    submitted, one, _ = term_batch
    root = tmp_path_factory.mktemp("shards")
    names = sorted(p.name for p in submitted.iterdir())
    assert {int.from_bytes(hashlib.sha256(n.encode()).digest()[:8], "big") % 3 + 1 for n in names} == {1, 2, 3}
    shutil.copytree(one, root / "one")
    procs = [subprocess.Popen([sys.executable, "-m", "autograder", "batch", str(submitted), "--out",
                               str(root / f"shard{k}"), "--assignment", A, "--jobs", "1", "--shard", f"{k}/3"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in (1, 2, 3)]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    merged = cli("merge-shards", root / "merged", *(root / f"shard{k}" for k in (1, 2, 3)))
    assert merged.returncode == 0, merged.stderr[-3000:]
    return root, submitted, names


@pytest.mark.slow  # grades the batch twice (once whole, once as 3 shards)
def test_three_shards_merged_give_one_batchs_outputs_byte_for_byte(graded):
    """grades.csv, the report and its plots, the written answers and refused.json are byte-identical; each verdict
    is the same; a feedback page is byte-identical wherever the student's cells printed the same both times."""
    root, _, names = graded
    one, merged = _files(root / "one"), _files(root / "merged")
    assert set(one) == set(merged)
    assert merged[f"{A}/grades.csv"] == one[f"{A}/grades.csv"]
    rows = merged[f"{A}/grades.csv"].decode().splitlines()[1:]
    assert sorted(row.split(",")[0] for row in rows) == names  # every student once, none lost or doubled
    same_output = set()
    for path in one:
        if path.endswith("results.json") or path.endswith("graded.json"):
            assert _verdict(merged[path]) == _verdict(one[path]), path
            if path.endswith("results.json"):
                printed = [json.loads(x[path])["extra_data"]["cell_output"] for x in (one, merged)]
                if printed[0] == printed[1]:
                    same_output.add(Path(path).parent.name)
        elif not path.startswith("feedback/"):  # grades.csv, the report and its plots, written answers, refused
            assert merged[path] == one[path], path
    assert len(same_output) >= 4, same_output  # all but the notebooks that print random numbers
    for student in same_output:
        for page in ("feedback.md", "feedback.html"):
            path = f"feedback/{student}/{A}/{page}"
            assert merged[path] == one[path], path


@pytest.mark.slow  # grades the batch twice (once whole, once as 3 shards)
def test_each_student_is_graded_by_exactly_one_shard_and_the_merge_copies_its_pages(graded):
    root, _, names = graded
    owners = {}
    for k in (1, 2, 3):
        marker = json.loads((root / f"shard{k}" / storage.SHARD).read_text())
        assert (marker["shard"], marker["of"]) == (k, 3)
        graded_here = sorted(p.parent.name for p in (root / f"shard{k}" / A).glob("*/results.json"))
        assert graded_here == marker["share"][A] and graded_here
        for student in graded_here:
            assert student not in owners
            owners[student] = k
            for path in (f"{A}/{student}/results.json", f"{A}/{student}/graded.json",
                         f"feedback/{student}/{A}/feedback.md", f"feedback/{student}/{A}/feedback.html"):
                assert (root / "merged" / path).read_bytes() == (root / f"shard{k}" / path).read_bytes(), path
        assert (root / f"shard{k}" / A / "grades.csv").read_text().count("\n") == len(graded_here) + 1
    assert sorted(owners) == names
    assert not (root / "merged" / storage.SHARD).exists()


@pytest.mark.slow  # grades the batch twice (once whole, once as 3 shards)
def test_a_rerun_of_a_shard_grades_nothing_and_a_plain_batch_may_continue_the_merge(graded, tmp_path):
    """A shard's records are a batch's: rerun, it grades nothing. The merged folder is an ordinary batch output:
    a plain batch over it finds everyone graded."""
    root, submitted, names = graded
    shutil.copytree(root / "shard2", tmp_path / "shard2")
    proc = cli("batch", submitted, "--out", tmp_path / "shard2", "--assignment", A, "--shard", "2/3")
    assert proc.returncode == 0 and "to grade" not in proc.stderr, proc.stderr[-2000:]
    shutil.copytree(root / "merged", tmp_path / "merged")
    proc = cli("batch", submitted, "--out", tmp_path / "merged", "--assignment", A)
    assert proc.returncode == 0 and f"{len(names)} already graded, unchanged" in proc.stderr, proc.stderr[-2000:]
    assert "to grade" not in proc.stderr
    assert (tmp_path / "merged" / A / "grades.csv").read_bytes() == (root / "one" / A / "grades.csv").read_bytes()


def test_the_split_is_stable_when_the_roster_changes():
    """Adding or removing students moves nobody else to another shard (a hash of the name, not a rank)."""
    roster = [f"student{i:03d}" for i in range(300)]
    before = {s: shards.shard_of(s, 4) for s in roster}
    after = {s: shards.shard_of(s, 4) for s in roster[::3] + ["aaa_new", "zzz_new"]}
    assert all(after[s] == before[s] for s in roster[::3])
    counts = [list(before.values()).count(k) for k in (1, 2, 3, 4)]
    assert min(counts) > 45, counts  # 75 each on average; every shard gets a share


# ---- the Kubernetes Indexed Job ---------------------------------------------------------------------------------
def _manifests():
    return [d for path in sorted(K8S.glob("*.yaml")) for d in yaml.safe_load_all(path.read_text()) if d]


def _jobs():
    """(the Indexed Job, the merge Job, the settings both read)."""
    docs = _manifests()
    jobs = [d for d in docs if d["kind"] == "Job"]
    indexed = [d for d in jobs if d["spec"].get("completionMode") == "Indexed"]
    others = [d for d in jobs if d["spec"].get("completionMode") != "Indexed"]
    assert len(indexed) == 1 and len(others) == 1, "one Indexed Job grades the shards, one Job merges them"
    [config] = [d for d in docs if d["kind"] == "ConfigMap"]
    return indexed[0], others[0], config["data"]


def _run_command(container, settings, tmp_path, **env):
    """The container's command line, run by sh with its settings and a stand-in python that prints its arguments."""
    command = container["command"] + container.get("args", [])
    assert command[:2] == ["sh", "-c"]
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(0o755)
    proc = subprocess.run(["sh", "-c", command[2], *command[3:]], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **settings, "PYTHON": str(fake), **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_the_indexed_job_runs_one_shard_per_completion_index(tmp_path):
    job, _, settings = _jobs()
    spec = job["spec"]
    n = spec["completions"]
    assert spec["parallelism"] == n == int(settings["SHARDS"]) and n >= 2
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    [container] = pod["containers"]
    assert container["envFrom"] == [{"configMapRef": {"name": "nf-grading"}}]
    shards, outs = [], []
    for index in range(n):
        words = _run_command(container, settings, tmp_path, JOB_COMPLETION_INDEX=str(index))
        assert words[:4] == ["-m", "autograder", "batch", "/submissions"]
        shards.append(words[words.index("--shard") + 1])
        outs.append(words[words.index("--out") + 1])
        assert words[words.index("--jobs") + 1] == settings["JOBS"]
    assert shards == [f"{k}/{n}" for k in range(1, n + 1)]  # every index a different shard, every shard once
    assert outs == [f"/graded/shard-{k}" for k in range(1, n + 1)]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["submissions"]["mountPath"] == "/submissions" and mounts["submissions"]["readOnly"] is True
    assert mounts["graded"]["mountPath"] == "/graded"
    assert {v["name"] for v in pod["volumes"]} == {"submissions", "graded"}
    resources = container["resources"]
    assert _gib(resources["requests"]["memory"]) <= _gib(resources["limits"]["memory"])


def _gib(quantity):
    units = {"Mi": 1 / 1024, "Gi": 1}
    return float(quantity[:-2]) * units[quantity[-2:]]


def test_the_merge_job_merges_every_shard_the_indexed_job_writes(tmp_path):
    job, merge, settings = _jobs()
    [container] = merge["spec"]["template"]["spec"]["containers"]
    words = _run_command(container, settings, tmp_path)
    n = job["spec"]["completions"]
    assert words == ["-m", "autograder", "merge-shards", "/graded/merged"] + [f"/graded/shard-{k}"
                                                                               for k in range(1, n + 1)]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/graded"}


def test_the_cli_takes_the_manifests_arguments():
    """The flags the manifests pass exist (argparse refuses an unknown one): --help of both commands names them."""
    batch_help = cli("batch", "--help", timeout=120).stdout
    for flag in ("--shard", "--out", "--jobs", "--assignment"):
        assert flag in batch_help
    assert "merge-shards" in cli("--help", timeout=120).stdout
