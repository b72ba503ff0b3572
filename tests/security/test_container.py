"""The parts of `make container-test` that need no container (the container runs themselves take about ten minutes
and root, so they stay outside make test): the environment the bundle installs fits the platforms' Python, and
the seccomp profile without Landlock is derived from the engine's own.
"""
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

import course_config

HERE = Path(__file__).resolve().parent
SECCOMP_WITHOUT = course_config.ROOT / "packaging" / "container" / "seccomp_without.py"
LANDLOCK = ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self")

#: The python3.11 that setup.sh gets from the platform's own packages: Gradescope's Ubuntu 22.04 (universe) and the
#: Debian 12 image of make container-test. A locked package that requires a later 3.11 breaks setup.sh there.
PLATFORM_PYTHONS = {"Ubuntu 22.04": "3.11.0", "Debian 12": "3.11.2"}


def locked():
    lines = (course_config.ROOT / "requirements.lock").read_text().splitlines()
    return dict(ln.strip().split("==", 1) for ln in lines if "==" in ln and not ln.lstrip().startswith("#"))


def test_every_locked_package_installs_on_the_platforms_python():
    """Read from the venv built from the lock (each package's Requires-Python); soupsieve 4.1.3 needed 3.11.5."""
    installed = {canonicalize_name(d.metadata["Name"]): d for d in importlib.metadata.distributions()}
    stale, refused = [], []
    for name, version in locked().items():
        dist = installed.get(canonicalize_name(name))
        if dist is None or dist.version != version:
            stale.append(f"{name}=={version} (installed: {dist.version if dist else 'none'})")
            continue
        spec = SpecifierSet(dist.metadata.get("Requires-Python") or "")
        refused += [f"{name}=={version} requires Python {spec}, {where} has {py}"
                    for where, py in PLATFORM_PYTHONS.items() if py not in spec]
    assert not stale, f"the venv does not match requirements.lock (run make setup): {stale}"
    assert not refused, refused


def profile_without(*names, profile=None):
    profile = profile or Path("/usr/share/containers/seccomp.json")
    return subprocess.run([sys.executable, str(SECCOMP_WITHOUT), *names], stdin=profile.open(),
                          capture_output=True, text=True)


def docker_like_profile(tmp_path):
    """A small profile of the engine's shape: an allow list, a conditional rule and an ERRNO rule."""
    path = tmp_path / "seccomp.json"
    path.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [
        {"names": ["read", "write", *LANDLOCK, "unshare"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["landlock_add_rule"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}))
    return path


def test_the_profile_without_landlock_drops_those_calls_and_keeps_the_rest(tmp_path):
    src = docker_like_profile(tmp_path)
    p = profile_without(*LANDLOCK, profile=src)
    assert p.returncode == 0, p.stderr
    out, before = json.loads(p.stdout), json.loads(src.read_text())
    allowed = [n for r in out["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]]
    assert not set(LANDLOCK) & set(allowed)
    assert {"read", "write", "unshare"} <= set(allowed)
    assert out["syscalls"][-1] == before["syscalls"][-1]  # ERRNO rules untouched
    assert {k: v for k, v in out.items() if k != "syscalls"} == {k: v for k, v in before.items() if k != "syscalls"}
    assert len(out["syscalls"]) == 2  # the rule that allowed only landlock_add_rule is gone, not left empty


def test_a_syscall_the_profile_does_not_allow_is_refused_in_one_line(tmp_path):
    p = profile_without("landlock_create_ruleset", "no_such_call", profile=docker_like_profile(tmp_path))
    assert p.returncode == 2 and p.stdout == ""
    assert re.fullmatch(r"seccomp_without.py: the profile allows none of: no_such_call\n", p.stderr)


@pytest.mark.skipif(not Path("/usr/share/containers/seccomp.json").exists(), reason="no container engine installed")
def test_podmans_profile_allows_landlock_and_the_copy_does_not():
    engine = json.loads(Path("/usr/share/containers/seccomp.json").read_text())
    allowed = {n for r in engine["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert set(LANDLOCK) <= allowed
    p = profile_without(*LANDLOCK)
    assert p.returncode == 0, p.stderr
    after = {n for r in json.loads(p.stdout)["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert after == allowed - set(LANDLOCK)
