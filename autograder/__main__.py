"""Command line: python -m autograder {normalise,validate,reference,grade,batch,merge-shards,answers,merge-manual,...}
..."""
import argparse
import os
import signal
import sys


def _interrupted(signum, frame):
    """SIGINT or SIGTERM outside the grading loop (which handles them itself, ``batch._stoppable``): every file
    is written atomically, so stopping here loses nothing; say so in one line instead of a traceback."""
    sys.stderr.write("interrupted: nothing half-written was kept; rerun the command to finish\n")
    os._exit(130)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def main(argv=None):
    try:
        import course_config
    except ValueError as e:  # course_config.ConfigError: a typo fails here, at start, naming the key
        print(f"error: {e}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m autograder")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("normalise", help="strip outputs, add cell ids and validate notebooks under DIRs")
    p.add_argument("dirs", nargs="+")
    p = sub.add_parser("validate", help="check release/ and solutions/ against source/ and summarise points")
    p.add_argument("--markdown", nargs="?", const="-", metavar="FILE",
                   help="print each assignment's points table as Markdown, or with FILE (docs/instructors.md) "
                        "rewrite the generated tables in it")
    p = sub.add_parser("reference", help="rebuild autograder/reference/ from solutions/")
    p.add_argument("--check", action="store_true", help="only report whether the stored values are stale")
    unsafe = argparse.ArgumentParser(add_help=False)
    unsafe.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="grade even where no sandbox is available (student code then runs as your user)")
    p = sub.add_parser("grade", parents=[unsafe], help="grade one submission into a Gradescope results.json")
    p.add_argument("submission")
    p.add_argument("--out", default="results.json")
    late = argparse.ArgumentParser(add_help=False)
    late.add_argument("--extensions", metavar="FILE", help="the extensions CSV (student,assignment,due; default: "
                      "LATE_POLICY['extensions_file'] in the folder that holds OUT, if it exists)")
    p = sub.add_parser("batch", parents=[unsafe, late],
                       help="grade every submission under DIR (nbgrader layout or flat)")
    p.add_argument("directory")
    p.add_argument("--out", help="where results go (default: DIR_graded next to DIR)")
    p.add_argument("--assignment", action="append", choices=course_config.ASSIGNMENTS,
                   help="grade only this assignment (repeatable; default: every assignment found)")
    p.add_argument("--jobs", type=int, help="submissions graded in parallel (default: course_config.BATCH_JOBS, "
                                            "else one per CPU core)")
    p.add_argument("--gradebook", nargs="?", const="auto",
                   help="also write scores into nbgrader's gradebook (default URL: the course's gradebook.db), and "
                        "the feedback pages nbgrader release_feedback hands to students")
    p.add_argument("--regrade", nargs="*", metavar="STUDENT",
                   help="grade again even what is unchanged: everyone, or only the STUDENTs named (a plain rerun "
                        "regrades exactly what changed)")
    p.add_argument("--shard", metavar="K/N",
                   help="grade only shard K of N (counted from 1; a student's shard is a hash of the name), into an "
                        "--out of its own; combine the N folders with merge-shards")
    p = sub.add_parser("watch", parents=[unsafe, late], help="grade each submission as it lands in DIR (nbgrader's "
                                                       "submitted/, or with --exchange the exchange's inbound/)")
    p.add_argument("directory", nargs="?", help="default with --exchange: EXCHANGE_ROOT/COURSE_ID/inbound")
    p.add_argument("--out", required=True)
    p.add_argument("--exchange", action="store_true", help="DIR is nbgrader's exchange inbound folder")
    p.add_argument("--assignment", action="append", choices=course_config.ASSIGNMENTS)
    p.add_argument("--jobs", type=int, help="warm grading slots (default as for batch)")
    p.add_argument("--settle", type=float, help="seconds a submission's files must stay unchanged (default: 1; "
                                                "0 with --exchange, where nbgrader's secret file marks it complete)")
    p.add_argument("--release-hidden", metavar="ASSIGNMENT", choices=course_config.ASSIGNMENTS,
                   help="release ASSIGNMENT's hidden results: re-render its students' pages in full, then exit")
    p = sub.add_parser("merge-shards", parents=[late],
                       help="combine the output folders of batch --shard 1/N ... N/N into OUT and "
                                            "render grades.csv, the report, feedback (and the gradebook) as one "
                                            "batch would")
    p.add_argument("out")
    p.add_argument("shards", nargs="+", metavar="SHARD_OUT")
    p.add_argument("--gradebook", nargs="?", const="auto",
                   help="also write scores into nbgrader's gradebook (default URL: the course's gradebook.db)")
    p.add_argument("--submissions", metavar="DIR",
                   help="the submissions folder the shards graded, for the gradebook's autograded notebooks and "
                        "nbgrader's feedback pages")
    p = sub.add_parser("gradescope", parents=[unsafe],
                       help="grade ROOT/submission/*.ipynb into ROOT/results/results.json")
    p.add_argument("--root", default="/autograder")
    p.add_argument("--assignment", choices=course_config.ASSIGNMENTS,
                   help="the assignment this Gradescope autograder grades (run_autograder passes the one in the bundle's ASSIGNMENT file)")
    p = sub.add_parser("student-config", help="print the nbgrader config students need (exchange, course id, "
                                              "timeout); --release writes release/<assignment>/nbgrader_config.py")
    p.add_argument("--release", action="store_true")
    p = sub.add_parser("answers", help="write OUT/<assignment>/answers.html (written answers beside the model answer "
                                       "and rubric) and a manual_scores.csv template, for a batch's output OUT")
    p.add_argument("out")
    p.add_argument("--force", action="store_true",
                   help="write a fresh manual_scores.csv (by default an existing one keeps its rows and gets rows "
                        "for new students)")
    p = sub.add_parser("merge-manual", parents=[late],
                       help="fold hand-given scores (student,grade_id,max_points,score,comment) into "
                                            "OUT's results.json files and grades.csv, and the gradebook")
    p.add_argument("out")
    p.add_argument("scores")
    p.add_argument("--gradebook", nargs="?", const="auto",
                   help="also write them into nbgrader's gradebook (default URL: the course's gradebook.db)")
    p = sub.add_parser("similarity", help="rank pairs of students by copied code and shared rare mistakes: "
                                          "OUT/<assignment>/similarity/index.html and similarity.json (instructors only)")
    p.add_argument("out")
    p.add_argument("--submissions", metavar="DIR", help="the folder batch graded into OUT (default: DIR for DIR_graded)")
    p.add_argument("--assignment", action="append", choices=course_config.ASSIGNMENTS)
    p.add_argument("--top", type=int, default=100, help="pairs kept in the page and the JSON (default 100)")
    p = sub.add_parser("export", parents=[late],
                       help="write OUT/<assignment>/lms/<lms>.csv in the LMS's gradebook import format")
    p.add_argument("out")
    p.add_argument("--lms", required=True, choices=("canvas", "moodle", "blackboard"))
    p.add_argument("--roster", required=True, help="CSV: student, lms_id, email (+ name, first_name, last_name, "
                                                   "sis_user_id, sis_login_id, section)")
    p.add_argument("--assignment", action="append", choices=course_config.ASSIGNMENTS)
    p.add_argument("--assignment-id", action="append", metavar="ASSIGNMENT=ID",
                   help="the LMS's id of the assignment (Canvas) or Grade Center column (Blackboard)")
    p.add_argument("--zero-missing", action="store_true",
                   help="export roster entries with no submission as 0 (by default they are refused)")
    p = sub.add_parser("demo", parents=[unsafe], help="grade the bundled example submissions and print the score table")
    p.add_argument("--dir", default="build/demo")
    args = parser.parse_args(argv)
    from autograder.batch import BatchError, Interrupted
    from autograder.store import RecordError
    from autograder.submissions.late import ExtensionsError
    try:
        return COMMANDS[args.command](args, course_config)
    except (BatchError, RecordError, ExtensionsError) as e:  # a run that cannot start (or a forged record, or a bad
        # extensions file: one line per bad row) says why, never with a traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:  # finished verdicts are kept; nothing was recorded for the rest
        print(e, file=sys.stderr)
        return 130


# One function per command. Each imports what it needs when it runs, so the CLI starts at once and answers
# Ctrl-C in one line from its first moment (``_interrupted``), whichever command it is.
def _demo(args, course_config):
    from autograder.authoring import demo
    return demo.run(args.dir, args.unsafe_no_sandbox)


def _grade(args, course_config):
    from autograder import batch, notebooks, render, store
    from autograder.submissions import read
    submission = read.read(args.submission)  # the one read of the file: refused here, or graded from it
    problem = notebooks.refusal(args.submission, submission.error)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if os.path.islink(args.out) or os.path.isdir(args.out):
        print(f"error: the results file {args.out} is a link or a folder; give a file path", file=sys.stderr)
        return 2
    result = batch.grade_file(args.submission, unsafe=args.unsafe_no_sandbox, submission=submission)
    store.write_json(args.out, render.results_json(result))
    print(f"{args.submission}: {render.score_words(result)}, status {result.status} -> {args.out}")
    return 0


def _gradescope(args, course_config):
    from autograder.integrations.gradescope import grade_submission
    return grade_submission(args.root, args.assignment, unsafe=args.unsafe_no_sandbox)


def _gradebook_url(option, course_config):
    """``--gradebook`` as a database URL: the course's gradebook.db for a bare flag."""
    return f"sqlite:///{course_config.ROOT / 'gradebook.db'}" if option == "auto" else option


def _batch(args, course_config):
    from autograder import batch, shards
    if not os.path.isdir(args.directory):
        print(f"error: {args.directory} is not a directory", file=sys.stderr)
        return 2
    if args.jobs is not None and args.jobs < 1:
        print("error: --jobs must be at least 1", file=sys.stderr)
        return 2
    shard = shards.parse_shard(args.shard) if args.shard is not None else None
    db = _gradebook_url(args.gradebook, course_config)
    graded, out = batch.run(args.directory, args.out, assignments=args.assignment, gradebook=db,
                            jobs=args.jobs, unsafe=args.unsafe_no_sandbox, regrade=args.regrade, shard=shard,
                            extensions=args.extensions)
    return _outputs(graded, out, db, course_config)


def _watch(args, course_config):
    from autograder.watch import loop
    directory = args.directory or (os.path.join(course_config.EXCHANGE_ROOT, course_config.COURSE_ID, "inbound")
                                   if args.exchange else None)
    if not directory or not os.path.isdir(directory):
        print(f"error: {directory or 'DIR'} is not a directory", file=sys.stderr)
        return 2
    if args.release_hidden:
        count = loop.release_hidden(directory, args.out, args.release_hidden, args.exchange, args.extensions)
        print(f"released the hidden results of {args.release_hidden}: {count} pages re-rendered, 0 graded")
        return 0
    return loop.run(directory, args.out, args.exchange, args.assignment, jobs=args.jobs,
                    unsafe=args.unsafe_no_sandbox, settle=args.settle, extensions=args.extensions)


def _merge_shards(args, course_config):
    from autograder import shards
    if args.submissions and not os.path.isdir(args.submissions):
        print(f"error: {args.submissions} is not a directory", file=sys.stderr)
        return 2
    db = _gradebook_url(args.gradebook, course_config)
    graded, out = shards.merge(args.out, args.shards, gradebook=db, directory=args.submissions,
                               extensions=args.extensions)
    print(f"merged {len(args.shards)} shards into {out}")
    return _outputs(graded, out, db, course_config)


def _outputs(graded, out, db, course_config):
    """The score tables and where a batch's (or a merge's) outputs are."""
    from autograder import render
    for assignment, rows in graded.items():
        print(render.table(rows, assignment))
    print(f"results: {out}/<assignment>/<student>/results.json, {out}/<assignment>/grades.csv, "
          f"{out}/<assignment>/report/index.html, {out}/feedback/<student>/<assignment>/")
    if db:
        from autograder.integrations import gradebook
        root = gradebook.course_root(db)
        print(f"gradebook: {db}; notebooks for formgrader: {root / course_config.AUTOGRADED_DIR}/<student>/"
              f"<assignment>/; feedback for nbgrader release_feedback: {root / course_config.FEEDBACK_DIR}/")
    return 0


def _student_config(args, course_config):
    from autograder.integrations import nbgrader_path
    if args.release:
        for path in nbgrader_path.write_release_configs():
            print(f"wrote {path}")
    else:
        print(nbgrader_path.student_config(exchange=True), end="")
    return 0


def _refused(error):
    print("error: nothing was changed:\n  " + "\n  ".join(error.problems), file=sys.stderr)
    return 2


def _answers(args, course_config):
    from autograder import manual
    try:
        for path, what in manual.export(args.out, force=args.force):
            print(f"{path}: {what}")
    except manual.ManualError as e:
        return _refused(e)
    return 0


def _merge_manual(args, course_config):
    from autograder import manual
    db = _gradebook_url(args.gradebook, course_config)
    try:
        counts = manual.merge(args.out, args.scores, db, args.extensions)
    except manual.ManualError as e:
        return _refused(e)
    for assignment, n in counts.items():
        print(f"{assignment}: merged {n} hand-given score(s); rendered results.json, feedback, grades.csv and "
              "the report again" + (", and wrote them into the gradebook" if db else ""))
    if not counts:
        print("no scores to merge (every score cell is empty)")
    return 0


def _similarity(args, course_config):
    from autograder import similarity
    try:
        written = similarity.run(args.out, args.submissions, args.assignment, args.top)
    except similarity.SimilarityError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for assignment, (page, data) in written.items():
        print(f"{assignment}: {len(data['students'])} students, {data['compared']} pairs compared -> {page}")
    return 0


def _export(args, course_config):
    from autograder.integrations import lms_export
    try:
        ids = lms_export.parse_column_ids(args.assignment_id)
        paths, notes = lms_export.export(args.out, args.lms, args.roster, args.assignment, ids, args.zero_missing,
                                         args.extensions)
    except lms_export.ExportError as e:
        return _refused(e)
    for line in notes + [f"wrote {path}" for path in paths]:
        print(line)
    return 0


def _normalise(args, course_config):
    from autograder import notebooks
    for path in notebooks.normalise_tree(*args.dirs):
        print(f"normalised {path}")
    return 0


def _validate(args, course_config):
    from autograder.authoring import validate
    if args.markdown == "-":
        print("\n\n".join(validate.points_block(a) for a in course_config.ASSIGNMENTS))
        return 0
    if args.markdown:
        page = course_config.ROOT / args.markdown  # an absolute path stays as it is
        if not page.is_file() or not validate.readme_points_blocks(page.read_text()):
            print(f"{args.markdown}: holds no points table (the tables live in docs/instructors.md)", file=sys.stderr)
            return 1
        changed = validate.write_points_into(args.markdown)
        print(f"{args.markdown}: " + (f"points tables updated ({', '.join(changed)})" if changed
                                      else "points tables up to date"))
        return 0
    return validate.main()


def _reference(args, course_config):
    from autograder import reference
    status = 0
    for assignment in course_config.ASSIGNMENTS:
        values = reference.build(assignment)
        if args.check:
            # The values, and the record of what they were built from: grading refuses either kind of staleness.
            stale = reference.differences(values, reference.load_reference(assignment))
            if reference.stale(assignment):
                stale.append("the record of what they were built from (inputs.json) does not match the hidden "
                             "inputs, the solutions or the budget")
            for line in stale:
                print(f"{assignment}: {line}")
            print(f"{assignment}: " + ("reference values are up to date" if not stale
                                       else "reference values are STALE: run make reference"))
            status = max(status, 1 if stale else 0)
        else:
            print(f"wrote {reference.save(assignment, values)}")
    return status


COMMANDS = {"demo": _demo, "grade": _grade, "gradescope": _gradescope, "batch": _batch, "watch": _watch,
            "student-config": _student_config, "answers": _answers, "merge-manual": _merge_manual,
            "merge-shards": _merge_shards,
            "similarity": _similarity, "export": _export,
            "normalise": _normalise, "validate": _validate, "reference": _reference}


if __name__ == "__main__":
    for _signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_signal, _interrupted)
    _code = main()
    # The command has finished and written everything. The interpreter's shutdown puts SIGINT back to its default,
    # so a Ctrl-C in that moment killed the process (-2) after a complete run: from here on it changes nothing.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    sys.exit(_code)
