"""The repository stands alone: no tracked file points at a path outside it.

A clone must run, test and build with nothing beside it. This walks every text file git tracks
and reports, by file and line: a reference to the reference folder that sits beside the project on
developers' machines, an absolute path into a developer's machine, a Python path climbing above the
repository root, a relative path (``../``) that resolves outside the root, a ``.md`` file named in
text that does not exist, and a Markdown link to a missing file, a missing heading or a place
outside the repository. The detector is tested on bad text too, so it is known to fail when it
should.
"""

from __future__ import annotations

import os
import re
import subprocess
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each pattern is written so that it does not match its own source text (this file is scanned too).
LEAVING: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\.\./+shared\b"), "points at the 'shared' folder beside the repository"),
    (
        re.compile(r"\bshared/+(?:docs|samples|data|seeds)\b"),
        "points at reference material that is not in the repository",
    ),
    (re.compile(r"/\s*[\"']shared[\"']"), "joins a path onto a 'shared' folder"),
    (re.compile(r"(?<![\w.-])/work(?=/)"), "is an absolute path on a development machine"),
    (re.compile(r"(?<![\w.-])/(?:home|Users|root)(?=/[\w.-])"), "is an absolute path in a home directory"),
    (re.compile(r"\b[A-Za-z]:[\\/]+Users[\\/]"), "is an absolute Windows path in a home directory"),
)
PARENTS = re.compile(r"__file__\s*\)(?:\s*\.\s*resolve\(\s*\))?\s*\.\s*parents\s*\[\s*(\d+)\s*\]")
RELATIVE = re.compile(r"(?<![\w./-])((?:\.\./)+[\w.-]*)")
MD_NAME = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w-][\w.-]*\.md)\b")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`+[^`]*`+")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")
SKIPPED_DIRS = {".git", ".venv", "venv", "var", "node_modules", "staticfiles", "__pycache__"}


@dataclass(frozen=True)
class Leak:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Tree:
    """The repository's tracked files, and the Markdown headings of each (for anchors)."""

    files: frozenset[str]
    texts: dict[str, str]

    @cached_property
    def dirs(self) -> frozenset[str]:
        out = {""}
        for f in self.files:
            out.update(str(p) for p in PurePosixPath(f).parents if str(p) != ".")
        return frozenset(out)

    def exists(self, relpath: str) -> bool:
        return relpath in self.files or relpath in self.dirs

    def anchors(self, relpath: str) -> set[str]:
        return heading_slugs(self.texts.get(relpath, ""))


def heading_slugs(markdown: str) -> set[str]:
    """The anchors GitHub gives a document's headings: lower case, punctuation dropped, spaces to
    hyphens, a repeated slug numbered -1, -2..."""
    slugs: set[str] = set()
    counts: dict[str, int] = {}
    fenced = False
    for line in markdown.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match is None:
            continue
        text = match.group(2).lower()
        kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LMN")
        slug = kept.replace(" ", "-")
        n = counts.get(slug, 0)
        counts[slug] = n + 1
        slugs.add(slug if n == 0 else f"{slug}-{n}")
    return slugs


def _normal(base: PurePosixPath, target: str) -> str | None:
    """``target`` relative to the folder ``base`` (a root-relative folder), normalised; None if it
    climbs above the repository root."""
    joined = os.path.normpath(str(base / target)) if target else str(base)
    if joined == ".":
        return ""
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        return None
    return joined


def find_leaks(relpath: str, text: str, tree: Tree) -> list[Leak]:
    """Every reference in ``text`` (the file ``relpath``, relative to the root) that leaves the
    repository or points at nothing in it."""
    leaks: list[Leak] = []
    here = PurePosixPath(relpath).parent
    depth = len(PurePosixPath(relpath).parts) - 1  # folders between the root and the file
    markdown = relpath.endswith(".md")
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):

        def leak(message: str, number: int = number) -> None:
            leaks.append(Leak(relpath, number, message))

        for pattern, why in LEAVING:
            for match in pattern.finditer(line):
                leak(f"{match.group(0)!r} {why}")
        for match in PARENTS.finditer(line):
            if int(match.group(1)) > depth:
                leak(f"{match.group(0)!r} climbs above the repository root")
        for match in RELATIVE.finditer(line):
            if _normal(here, match.group(1)) is None:
                leak(f"{match.group(1)!r} resolves outside the repository")
        for match in MD_NAME.finditer(line):
            name = match.group(1)
            if not (tree.exists(name) or tree.exists(_normal(here, name) or "")):
                leak(f"{name!r} names a Markdown file that is not in the repository")
        if not markdown:
            continue
        if FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        prose = CODE_SPAN.sub("", line)
        targets = [m.group(1) for m in INLINE_LINK.finditer(prose)]
        targets += [m.group(1) for m in REFERENCE_LINK.finditer(prose)]
        for target in targets:
            problem = _link_problem(relpath, here, target, tree)
            if problem:
                leak(problem)
    return leaks


def _link_problem(relpath: str, here: PurePosixPath, target: str, tree: Tree) -> str | None:
    if not target or SCHEME.match(target):
        return None
    path, _, anchor = target.partition("#")
    path = unquote(path.split("?", 1)[0])
    if path.startswith("/"):
        resolved = _normal(PurePosixPath("."), path.lstrip("/"))
    else:
        resolved = _normal(here, path) if path else relpath
    if resolved is None:
        return f"link {target!r} leads outside the repository"
    if not tree.exists(resolved):
        return f"link {target!r} points at {resolved!r}, which is not in the repository"
    if anchor and resolved.endswith(".md") and unquote(anchor).lower() not in tree.anchors(resolved):
        return f"link {target!r}: {resolved!r} has no heading with the anchor #{anchor}"
    return None


def _tracked() -> list[str]:
    """The files git tracks (and new ones not ignored yet, so a leak shows before it is committed);
    without git (an exported tree), every file but the usual clutter."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        return [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.SubprocessError):
        found = []
        for folder, dirs, names in os.walk(ROOT):
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.endswith("_cache")]
            found += [str(Path(folder, n).relative_to(ROOT).as_posix()) for n in names]
        return found


def load_tree() -> Tree:
    texts: dict[str, str] = {}
    files = _tracked()
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        texts[name] = data.decode("utf-8", errors="replace")
    return Tree(frozenset(files), texts)


# --- the repository ------------------------------------------------------------------------------


def test_no_tracked_file_points_outside_the_repository():
    tree = load_tree()
    assert "README.md" in tree.texts and "tests/core/test_repository_stands_alone.py" in tree.texts
    leaks = [leak for name, text in sorted(tree.texts.items()) for leak in find_leaks(name, text, tree)]
    assert not leaks, "References that leave the repository:\n" + "\n".join(map(str, leaks))


def test_the_x12_samples_the_tests_read_are_in_the_repository():
    samples = ROOT / "tests" / "fixtures" / "x12"
    assert (samples / "README.md").is_file()
    assert len(list(samples.glob("*/*.834"))) + len(list(samples.glob("*/*.txt"))) == 19
    assert len(list(samples.glob("synthetic/*.820"))) == 2


# --- the detector fails on what it must ----------------------------------------------------------

# Bad text is assembled from pieces (SHARED, WORK, MD, "{3}") so that this file itself stays clean.
SHARED = "sha" + "red"
WORK = "/" + "work"
MD = ".md"
TREE = Tree(
    frozenset(
        {"README.md", "docs/formats.md", "docs/domain.md", "tests/enrollment/test_x.py", "pricing/a.py"}
    ),
    {
        "README.md": "# carebundle\n",
        "docs/formats.md": "# Exchange formats\n\n## 6. Pricing file (`carebundle.pricing/1`, JSON)\n"
        "### What a quote computes, exactly\n## Notes\n## Notes\n",
        "docs/domain.md": "# Domain\n",
    },
)


@pytest.mark.parametrize(
    ("relpath", "text", "expected"),
    [
        ("README.md", f"See [formats](../{SHARED}/docs/formats{MD}).", "beside the repository"),
        (
            "tests/enrollment/test_x.py",
            f'SAMPLES = Path("{WORK}/{SHARED}/samples/x12")',
            "development machine",
        ),
        ("pricing/a.py", f"# figures from {SHARED}/data/README{MD}", "not in the repository"),
        (
            "tests/enrollment/test_x.py",
            f'SAMPLES = Path(__file__).resolve().parents[{3}] / "{SHARED}" / "samples"',
            "climbs above the repository root",
        ),
        (
            "tests/enrollment/test_x.py",
            f"x = Path(__file__).parents[{3}]",
            "climbs above the repository root",
        ),
        ("pricing/a.py", 'DATA = "' + "/ho" + 'me/alice/carebundle/data.csv"', "home directory"),
        ("pricing/a.py", "p = r'C:" + "\\Us" + "ers\\bob\\x'", "Windows path"),
        ("pricing/a.py", "open('../../outside.txt')", "resolves outside the repository"),
        ("pricing/a.py", f'"""The quote (see data/README{MD})."""', "names a Markdown file"),
        ("docs/domain.md", f"The [guide](../../elsewhere/guide{MD}).", "leads outside the repository"),
        ("docs/domain.md", f"The [guide](missing{MD}).", "not in the repository"),
        ("docs/domain.md", f"[guide]: ./missing{MD}", "not in the repository"),
        ("docs/domain.md", f"See [the quote](formats{MD}#what-a-quote-computes).", "no heading"),
        ("docs/domain.md", "See [here](#nowhere).", "no heading"),
    ],
)
def test_the_detector_reports_each_kind_of_leak_with_its_line(relpath, text, expected):
    leaks = find_leaks(relpath, "first line\n" + text + "\n", TREE)
    assert leaks, f"not detected: {text}"
    assert all(leak.path == relpath and leak.line == 2 for leak in leaks)
    assert any(expected in leak.message for leak in leaks), [str(leak) for leak in leaks]
    assert str(leaks[0]).startswith(f"{relpath}:2: ")


@pytest.mark.parametrize(
    ("relpath", "text"),
    [
        ("README.md", "Formats: [`docs/formats.md`](docs/formats.md); [top](#carebundle)."),
        ("docs/domain.md", f"See [section 6](formats{MD}#6-pricing-file-carebundlepricing1-json)."),
        (
            "docs/domain.md",
            f"[The quote](formats{MD}#what-a-quote-computes-exactly), [notes](formats{MD}#notes-1).",
        ),
        (
            "docs/domain.md",
            f"[Up](../README{MD}), [docs](./), [web](https://example.org/../x), [mail](mailto:a@b.c)",
        ),
        ("pricing/a.py", '"""The quote (docs/formats.md section 6, docs/domain.md 4.3)."""'),
        ("tests/enrollment/test_x.py", 'SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "x12"'),
        ("tests/enrollment/test_x.py", "ROOT = Path(__file__).resolve().parents[2]"),
        ("pricing/a.py", "shared_savings_terms = {}  # ../pricing stays inside; shared savings are fine"),
        ("docs/domain.md", "```\n[not checked](nothere/)\n```"),
        ("docs/domain.md", "A range is `[low, high](per assumption)`, not a link."),
        ("pricing/a.py", "MEDIA_ROOT = '/var/lib/carebundle/media'  # a path inside the container"),
    ],
)
def test_the_detector_accepts_references_inside_the_repository(relpath, text):
    assert find_leaks(relpath, text, TREE) == []


def test_heading_slugs_follow_github():
    assert heading_slugs("# A\n## 5. Enrollment, assessments and payment\n```\n# not\n```\n## A\n") == {
        "a",
        "5-enrollment-assessments-and-payment",
        "a-1",
    }
