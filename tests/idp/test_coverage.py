"""Every SENDS and REQ line of IDP_QUIRKS.md is replayed, tested, or excluded with a reason.

``IDP_QUIRKS.md`` (beside this file) is the team's research on what the two clients send and
need. The workspace keeps the master copy next to the repository (``../shared/IDP_QUIRKS.md``);
the copy here is what the tests read, so a plain clone runs them all, and
``test_the_copy_matches_the_workspace_document`` fails when the two drift apart.

A line is referenced by a scenario step (``"source"`` plus ``"quirk"``, see ``replay.py``), by a
test of ``test_quirks_extra.py`` (``Source:`` and ``Quirk:`` lines in its docstring), or by an
entry of ``EXCLUSIONS`` below. A reference matches a line when every ``…``-separated fragment of
its quirk text occurs in the line, in order, ignoring Markdown emphasis, code ticks, backslashes
and runs of white space, and when its source tag is one of the tags the line cites (lines
without tags, such as those of §3, accept any known tag). Each reference must match exactly one
line, so that a vague quirk text cannot claim lines it does not test.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.idp.replay import load_scenario
from tests.idp.replay import scenario_files
from tests.idp.replay import scenario_id

REPO_ROOT = Path(__file__).resolve().parents[2]
QUIRKS_FILE = Path(__file__).with_name("IDP_QUIRKS.md")
WORKSPACE_QUIRKS_FILE = REPO_ROOT.parent / "shared" / "IDP_QUIRKS.md"
EXTRA_TESTS = Path(__file__).with_name("test_quirks_extra.py")
IN_SCOPE = frozenset({"SENDS", "REQ"})
KINDS = frozenset({"SENDS", "REQ", "ACCEPTS", "NOTE"})

# SENDS/REQ lines that neither a recording nor a test can replay: (source, quirk, reason).
# Lines about TLS, the 25 req/s gallery rate, Okta's Basic/OAuth options and timeouts are NOTE
# lines, outside the scope checked here. Every SENDS/REQ line is replayed today, so this is
# empty; an entry must name exactly one SENDS/REQ line that nothing else covers.
EXCLUSIONS: list[tuple[str, str, str]] = []


@dataclass(frozen=True)
class Line:
    """One bullet of IDP_QUIRKS.md."""

    section: str
    number: int
    text: str
    kinds: frozenset[str]
    tags: frozenset[str]

    @property
    def in_scope(self) -> bool:
        return bool(self.kinds & IN_SCOPE)

    def __str__(self) -> str:
        return f"{self.section} (line {self.number}): {self.text}"


@dataclass(frozen=True)
class Reference:
    source: str
    quirk: str
    origin: str


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[`*\\]", "", text)).strip()


def parse_quirks(markdown: str) -> tuple[frozenset[str], list[Line]]:
    """The source tags of the Sources table, and every bullet of the numbered sections (not the
    legend of kinds at the top) with its kinds and tags."""
    tags = frozenset(re.findall(r"^\|\s*([A-Z]+-[A-Z0-9-]+)\s*\|", markdown, flags=re.MULTILINE))
    lines: list[Line] = []
    section = ""
    current: list[str] = []
    start = 0

    def flush() -> None:
        if current:
            text = " ".join(current)
            kinds = {k for marker in re.findall(r"\*\*([A-Z]+(?:/[A-Z]+)*)\*\*", text) for k in marker.split("/")}
            cited = {t for t in tags if re.search(rf"(?<![\w-]){re.escape(t)}(?![\w-])", text)}
            lines.append(Line(section, start, text, frozenset(kinds & KINDS), frozenset(cited)))
            current.clear()

    for number, raw in enumerate(markdown.splitlines(), 1):
        if raw.startswith("#"):
            flush()
            section = raw.lstrip("#").strip()
        elif raw.startswith("- ") and section[:1].isdigit():  # facts live in the numbered sections
            flush()
            current.append(raw[2:].strip())
            start = number
        elif current and raw.strip() and not raw.startswith("|"):
            current.append(raw.strip())
        else:
            flush()
    flush()
    return tags, lines


def matches(reference: Reference, line: Line) -> bool:
    if line.tags and reference.source not in line.tags:
        return False
    haystack, position = normalise(line.text), 0
    for fragment in (normalise(f) for f in reference.quirk.split("…")):
        if not fragment:
            continue
        found = haystack.find(fragment, position)
        if found < 0:
            return False
        position = found + len(fragment)
    return True


def step_references() -> list[Reference]:
    refs = []
    for path in scenario_files():
        for index, step in enumerate(load_scenario(path), 1):
            refs.append(Reference(step["source"], step["quirk"], f"{scenario_id(path)} step {index} {step['name']!r}"))
    return refs


def extra_references() -> list[Reference]:
    """``Source:``/``Quirk:`` lines of the docstrings of test_quirks_extra.py (read, not imported)."""
    refs = []
    tree = ast.parse(EXTRA_TESTS.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
            source = ""
            for doc_line in (ast.get_docstring(node) or "").splitlines():
                key, _, value = doc_line.strip().partition(":")
                if key == "Source":
                    source = value.strip()
                elif key == "Quirk":
                    refs.append(Reference(source, value.strip(), f"{EXTRA_TESTS.name}::{node.name}"))
    return refs


def exclusion_references() -> list[Reference]:
    return [Reference(source, quirk, f"EXCLUSIONS ({reason})") for source, quirk, reason in EXCLUSIONS]


@pytest.fixture(scope="module")
def quirks() -> tuple[frozenset[str], list[Line]]:
    return parse_quirks(QUIRKS_FILE.read_text(encoding="utf-8"))


def test_the_copy_matches_the_workspace_document() -> None:
    """Outside the team's workspace (a plain clone) there is nothing to compare with."""
    if not WORKSPACE_QUIRKS_FILE.exists():
        pytest.skip(f"no workspace copy at {WORKSPACE_QUIRKS_FILE} to compare with")
    assert QUIRKS_FILE.read_text(encoding="utf-8") == WORKSPACE_QUIRKS_FILE.read_text(encoding="utf-8"), (
        f"{QUIRKS_FILE} differs from {WORKSPACE_QUIRKS_FILE}: copy the workspace document over it "
        "and cover its new SENDS/REQ lines"
    )


def test_the_quirks_document_parses(quirks: tuple[frozenset[str], list[Line]]) -> None:
    """Guards the parser: a format change must not turn every check below into a no-op."""
    tags, lines = quirks
    assert {"O-REF", "O-SPEC", "E-TUT", "E-KI", "E-REF-LA", "E-REF-PM"} <= tags
    in_scope = [line for line in lines if line.in_scope]
    assert len(in_scope) >= 60
    assert any(line.section.startswith("1.") for line in in_scope)
    assert any(line.section.startswith("2.") for line in in_scope)
    assert all(line.tags for line in in_scope), [str(line) for line in in_scope if not line.tags]


def test_every_test_in_the_extra_module_names_its_quirk() -> None:
    tree = ast.parse(EXTRA_TESTS.read_text(encoding="utf-8"))
    tests = {
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test_")
    }
    named = {r.origin.split("::")[1] for r in extra_references()}
    assert tests, f"no tests found in {EXTRA_TESTS}"
    assert tests == named, f"tests without a Quirk: line: {sorted(tests - named)}"


def test_every_reference_names_exactly_one_line(quirks: tuple[frozenset[str], list[Line]]) -> None:
    tags, lines = quirks
    problems = []
    for ref in [*step_references(), *extra_references(), *exclusion_references()]:
        if ref.source not in tags:
            problems.append(f"{ref.origin}: unknown source tag {ref.source!r} (known: {', '.join(sorted(tags))})")
            continue
        found = [line for line in lines if matches(ref, line)]
        if len(found) != 1:
            where = "".join(f"\n    {line}" for line in found) or " none"
            problems.append(f"{ref.origin}: quirk {ref.quirk!r} [{ref.source}] matches {len(found)} lines:{where}")
    assert not problems, "\n".join(problems)


def test_every_sends_and_req_line_is_covered(quirks: tuple[frozenset[str], list[Line]]) -> None:
    _, lines = quirks
    refs = [*step_references(), *extra_references(), *exclusion_references()]
    uncovered = [line for line in lines if line.in_scope and not any(matches(r, line) for r in refs)]
    assert not uncovered, (
        f"{len(uncovered)} SENDS/REQ line(s) of {QUIRKS_FILE.name} have no scenario step, no test in "
        f"{EXTRA_TESTS.name} and no exclusion:\n" + "\n".join(f"  {line}" for line in uncovered)
    )


def test_exclusions_are_justified_and_current(quirks: tuple[frozenset[str], list[Line]]) -> None:
    _, lines = quirks
    tested = [*step_references(), *extra_references()]
    for source, quirk, reason in EXCLUSIONS:
        assert reason.strip(), f"exclusion {quirk!r} gives no reason"
        ref = Reference(source, quirk, "exclusion")
        found = [line for line in lines if matches(ref, line)]
        assert len(found) == 1, f"exclusion {quirk!r} must name exactly one line, names {len(found)}"
        assert found[0].in_scope, f"exclusion {quirk!r} names a line that is not SENDS/REQ: {found[0]}"
        assert not any(matches(r, found[0]) for r in tested), f"exclusion {quirk!r} is stale: the line is tested"


def test_the_matching_rules() -> None:
    line = Line(
        "1.5",
        1,
        '**SENDS** Reactivation is the same PATCH with `"active":true`. [O-REF]',
        frozenset(),
        frozenset({"O-REF"}),
    )
    assert matches(Reference("O-REF", 'Reactivation is … with "active":true.', "t"), line)
    assert not matches(Reference("O-LEG", "Reactivation is the same PATCH", "t"), line)
    assert not matches(Reference("O-REF", "with … Reactivation", "t"), line), "fragments are ordered"
    assert not matches(Reference("O-REF", "Deactivation is the same PATCH", "t"), line)
