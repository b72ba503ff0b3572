"""Command line: python -m autograder {normalise,validate,reference} ..."""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("normalise", help="strip outputs, add cell ids and validate notebooks under DIRs")
    p.add_argument("dirs", nargs="+")
    sub.add_parser("validate", help="check release/ and solutions/ against source/ and summarise points")
    p = sub.add_parser("reference", help="rebuild autograder/reference/ from solutions/")
    p.add_argument("--check", action="store_true", help="only report whether the stored values are stale")
    args = parser.parse_args(argv)

    if args.command == "normalise":
        from autograder import notebooks
        for path in notebooks.normalise_tree(*args.dirs):
            print(f"normalised {path}")
        return 0
    if args.command == "validate":
        from autograder import validate
        return validate.main()
    if args.command == "reference":
        from autograder import checks, reference
        values = reference.build()
        if args.check:
            stale = reference.differences(values, checks.load_reference())
            for line in stale:
                print(line)
            print("reference values are up to date" if not stale else "reference values are STALE: run make reference")
            return 1 if stale else 0
        checks.save_reference(values)
        print(f"wrote {checks.REFERENCE_FILE}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
