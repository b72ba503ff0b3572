"""Write a copy of a seccomp profile (OCI/Docker JSON) with some syscalls taken out of every rule that allows them.

    python seccomp_without.py landlock_create_ruleset landlock_add_rule landlock_restrict_self \
        < /usr/share/containers/seccomp.json > no-landlock.json

A syscall named in no rule falls to the profile's defaultAction (ENOSYS in podman's and Docker's profiles), which
is what a container engine whose profile predates the syscall gives: Docker 20.10's profile has no Landlock calls.
Refuses (one line, exit 2) a name the input profile does not allow, so a renamed syscall cannot pass unnoticed.
"""
import json
import sys


def without(profile, names):
    names = set(names)
    found = set()
    rules = []
    for rule in profile["syscalls"]:
        if rule.get("action") == "SCMP_ACT_ALLOW":
            found |= names & set(rule["names"])
            rule = {**rule, "names": [n for n in rule["names"] if n not in names]}
            if not rule["names"]:
                continue
        rules.append(rule)
    missing = names - found
    if missing:
        raise ValueError(f"the profile allows none of: {', '.join(sorted(missing))}")
    return {**profile, "syscalls": rules}


def main(argv):
    if not argv:
        print("usage: seccomp_without.py SYSCALL... < PROFILE.json > OUT.json", file=sys.stderr)
        return 2
    try:
        out = without(json.load(sys.stdin), argv)
    except (ValueError, KeyError, TypeError) as e:
        print(f"seccomp_without.py: {e}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
