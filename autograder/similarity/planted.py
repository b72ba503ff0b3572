"""Copied pairs, planted into a submissions folder: to measure the similarity report, and for the demo.

``plant(submitted, original)`` reads ``original``'s notebook and writes two copies of it as new students:

* ``<original>_renamed``: every variable the student's answers bind (assignments, loop variables, the arguments
  of a bijector's hooks) renamed, and each answer cell moved as early as the names it reads allow, the way a copier
  disguises a copy. The contract's names (the grade ids, and every name another cell of the release uses) keep
  theirs, so the copy still grades as the original does.
* ``<original>_plus_one``: the original with one more catalogued mistake (``authoring.examples``), the first
  whose edit applies to it.

The notebooks are edited as text (``ast`` and ``tokenize``); nothing is run.
"""
import ast
import io
import keyword
import tokenize

import nbformat

from autograder import course, notebooks
from autograder.authoring import examples


def _module_names(tree):
    """Names bound at the top level of a cell (outside any function)."""
    names, stack = set(), [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return names


def _function_locals(node):
    """The arguments and assigned names of one function (not ``self``, not names declared global)."""
    args = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
    args += [a.arg for a in (node.args.vararg, node.args.kwarg) if a]
    stored = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    declared = {name for n in ast.walk(node) if isinstance(n, (ast.Global, ast.Nonlocal)) for name in n.names}
    return (set(args) | stored) - declared - {"self", "cls"}


def _bound_names(source):
    tree = ast.parse(source)
    return _module_names(tree) | {n for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) for n in _function_locals(f)}


def _loaded_names(source):
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}


def _rename(source, mapping, lines=None):
    """``source`` with each NAME token in ``mapping`` renamed (only on ``lines``, a range of line numbers, when
    given), except attributes and keyword arguments."""
    tokens, out, depth = list(tokenize.generate_tokens(io.StringIO(source).readline)), [], 0
    for i, tok in enumerate(tokens):
        depth += tok.string in "([{" if tok.type == tokenize.OP else 0
        depth -= tok.string in ")]}" if tok.type == tokenize.OP else 0
        after = next((t.string for t in tokens[i + 1:] if t.type not in (tokenize.NL, tokenize.COMMENT)), "")
        attribute = i > 0 and tokens[i - 1].string == "."
        keyword_arg = depth > 0 and after == "="
        inside = lines is None or tok.start[0] in lines
        if tok.type == tokenize.NAME and tok.string in mapping and inside and not attribute and not keyword_arg:
            tok = tok._replace(string=mapping[tok.string])
        out.append(tok)
    return tokenize.untokenize(out)


def _disguise(source, protected):
    """One answer cell renamed: its top-level names not in ``protected`` everywhere, each function's own locals
    inside that function; then the methods of each class after ``__init__`` in reverse order."""
    tree = ast.parse(source)
    top = sorted(_module_names(tree) - protected)
    source = _rename(source, {n: f"{n}_{k}g" for k, n in enumerate(top)})
    for f in [f for f in ast.walk(ast.parse(source)) if isinstance(f, ast.FunctionDef)]:
        names = sorted(_function_locals(f) - set(keyword.kwlist))
        if f.name.startswith("__") and f.name != "__init__" or f.name == "__init__":
            names = [n for n in names if n not in {a.arg for a in f.args.args}]  # the constructor's keywords stay
        source = _rename(source, {n: f"{n}_{k}v" for k, n in enumerate(names)}, range(f.lineno, f.end_lineno + 1))
    return _reverse_methods(source)


def _reverse_methods(source):
    lines = source.splitlines(keepends=True)
    for cls in [c for c in ast.parse(source).body if isinstance(c, ast.ClassDef)][:1]:
        methods = [m for m in cls.body if isinstance(m, ast.FunctionDef) and m.name != "__init__"]
        if len(methods) < 2 or methods != cls.body[len(cls.body) - len(methods):]:
            return source
        starts = [min([m.lineno] + [d.lineno for d in m.decorator_list]) - 1 for m in methods]
        later = [n.lineno - 1 for n in ast.parse(source).body if n.lineno > cls.end_lineno]
        ends = starts[1:] + [later[0] if later else len(lines)]  # a method's trailing comments go with it
        blocks = ["".join(lines[s:e]).rstrip("\n") + "\n" for s, e in zip(starts, ends)]
        tail = "\n" + "".join(lines[ends[-1]:]) if later else ""
        return "".join(lines[:starts[0]]) + "\n".join(reversed(blocks)) + tail
    return source


def _answer_cells(nb, assignment):
    ids = set(course.items(assignment))
    return [i for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and notebooks.grade_meta(c).get("grade_id") in ids]


def renamed_and_reordered(nb, assignment):
    """A copy of ``nb``: the answers' own variables renamed, each answer cell moved up as far as it safely goes."""
    nb = nbformat.from_dict(nb)
    answers = _answer_cells(nb, assignment)
    others = [c.source for i, c in enumerate(nb.cells) if c.cell_type == "code" and i not in answers]
    protected = set(course.items(assignment)) | set(dir(__builtins__)) | set(keyword.kwlist) | {"self"}
    for source in others:
        try:
            protected |= _loaded_names(source)
        except SyntaxError:
            continue
    for i in answers:
        try:
            nb.cells[i].source = _disguise(nb.cells[i].source, protected)
        except (SyntaxError, tokenize.TokenError):
            continue
    for i in _answer_cells(nb, assignment):
        _hoist(nb.cells, i)
    return nb


def _hoist(cells, i):
    """Move code cell ``i`` up past the cells that neither define what it reads nor touch what it defines."""
    try:
        reads, writes = _loaded_names(cells[i].source), _bound_names(cells[i].source) | _defined(cells[i].source)
    except SyntaxError:
        return
    j = i
    while j > 0:
        above = cells[j - 1]
        if above.cell_type == "code":
            try:
                names = _loaded_names(above.source) | _defined(above.source)
            except SyntaxError:
                break
            if names & (reads | writes):
                break
        j -= 1
    while j < i and cells[j].cell_type != "code":  # keep it below the markdown it follows
        j += 1
    cells.insert(j, cells.pop(i))


def _defined(source):
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name).split(".")[0] for a in node.names)
    return out


def plus_one_mistake(nb, assignment):
    """(a copy of ``nb`` with one more catalogued mistake, its id): the first of the catalogue whose edit applies."""
    for mistake_id, mistake in examples.EDITS[assignment].items():
        try:
            return examples.apply(nb, mistake), mistake_id
        except (ValueError, StopIteration):
            continue
    raise ValueError(f"no catalogued mistake of {assignment} applies to this notebook")


def plant(submitted, original, assignment=examples.ASSIGNMENT):
    """Write ``<original>_renamed`` and ``<original>_plus_one`` beside ``original`` in ``submitted`` (nbgrader's
    ``submitted/<student>/<assignment>/`` layout); returns {student: (path, what was done)}."""
    nb = notebooks.read(course.notebook_path(original, assignment, submitted))
    copy, extra = renamed_and_reordered(nb, assignment), plus_one_mistake(nb, assignment)
    return {f"{original}_renamed": (examples.write_submission(submitted, f"{original}_renamed", copy,
                                                              assignment=assignment), "renamed and reordered"),
            f"{original}_plus_one": (examples.write_submission(submitted, f"{original}_plus_one", extra[0],
                                                               assignment=assignment), f"plus {extra[1]}")}

