"""The README is a front page and the guides live in docs/: every link between them resolves, the README stays
short, and every guide is reachable from it. Fast: reads Markdown only."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
GUIDES = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README] + GUIDES
MAX_README_LINES = 250

FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.M | re.S)  # also a fence indented in a list item
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
LINK = re.compile(r"(?<!\!)\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def _prose(text):
    """The text without fenced code blocks and code spans, where a '#' or '[x](y)' is not Markdown."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading):
    """GitHub's anchor for a heading: inline Markdown dropped, lowercase, every character other than a letter, a
    digit, a space, '-' or '_' removed, spaces turned into '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    """Every anchor GitHub makes for the page's headings (a repeated slug gets -1, -2, ...)."""
    seen, found = {}, set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def relative_targets(text):
    """The relative link targets of Markdown text, in order (images, URLs with a scheme and code left out)."""
    return [t for t in LINK.findall(_prose(text)) if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]


def links(path):
    """The page's relative links: (target path or None for the same page, anchor or None)."""
    for target in relative_targets(path.read_text()):
        file_part, _, anchor = target.partition("#")
        yield (file_part or None), (anchor or None)


def test_the_slug_follows_githubs_rules():
    assert slug("Gradescope's container, tested") == "gradescopes-container-tested"
    assert slug("`make bench`") == "make-bench"
    assert slug("Security: what holds, how it is tested") == "security-what-holds-how-it-is-tested"
    assert slug("points_of a-b") == "points_of-a-b"


def test_the_link_finder_sees_links_but_not_code():
    text = "[a](b.md#c) `[d](e.md)` ![img](f.png) [g](https://h) [i](#j)\n```\n[k](l.md)\n```\n"
    assert relative_targets(text) == ["b.md#c", "#j"]
    assert relative_targets("* item\n\n  ```bash\n  [k](l.md)\n  # not a heading\n  ```\n[m](n.md)") == ["n.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for file_part, anchor in links(page):
        target = page if file_part is None else (page.parent / file_part).resolve()
        if not target.exists():
            broken.append(f"{file_part}: no such file")
        elif anchor is not None:
            if target.suffix != ".md":
                broken.append(f"{file_part}#{anchor}: an anchor into a file that is not Markdown")
            elif anchor not in anchors(target):
                broken.append(f"{file_part or ''}#{anchor}: no such heading in {target.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)} has broken links: " + "; ".join(broken)


def test_the_readme_is_a_front_page():
    lines = len(README.read_text().splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move detail into a guide under docs/"


def test_every_guide_is_linked_from_the_readme():
    assert GUIDES, "docs/ holds no guide"
    linked = {(ROOT / f).resolve() for f, _ in links(README) if f}
    missing = [g.name for g in GUIDES if g.resolve() not in linked]
    assert not missing, f"README.md links to no docs/{', docs/'.join(missing)}"


GENERATED = {"bench/results.json"}  # written by make bench, not in git
REPO_PATH = re.compile(r"(?<![\w/.<>-])((?:autograder|bench|docs|packaging|source|tests)/[\w.-]+(?:/[\w.-]+)*)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_the_page_names_exists(page):
    """A path into the repository named anywhere on the page (prose or code) is a file or folder of this
    checkout, so a moved module or test leaves no stale pointer behind."""
    named = {m.rstrip(".") for m in REPO_PATH.findall(page.read_text())}
    stale = sorted(p for p in named if not (ROOT / p).exists() and p not in GENERATED)
    assert not stale, f"{page.relative_to(ROOT)} names paths that do not exist: " + ", ".join(stale)
