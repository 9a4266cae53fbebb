"""What a newcomer reads first holds together: the README's commands are the ones CI runs, the
licence is the one pyproject declares, and no document or comment points at a file that a clone
of this repository does not have."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI = ROOT / ".ci" / "run"
DOCUMENTS = [README, ROOT / "ARCHITECTURE.md", ROOT / "bench" / "README.md", ROOT / "tests" / "idp" / "README.md"]
# Names of the team workspace's own files, which a clone does not have. test_coverage.py may name
# the workspace copy of IDP_QUIRKS.md: it compares the repository's copy with it when it exists.
OUTSIDE = ("../shared", "shared/IDP_QUIRKS", "DESIGN.md", "STYLE.md", "vendor-suites")
MAY_NAME_THE_WORKSPACE = {Path(__file__).resolve(), ROOT / "tests" / "idp" / "test_coverage.py"}


def shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", markdown, flags=re.DOTALL)


def test_the_readme_test_command_is_what_ci_runs() -> None:
    command = next(
        line
        for block in shell_blocks(README.read_text(encoding="utf-8"))
        for line in block.splitlines()
        if "pytest" in line
    )
    assert command.startswith("python3 -m venv .venv && "), command
    ci_lines = [line.strip() for line in CI.read_text(encoding="utf-8").splitlines()]
    # .ci/run spells the first two steps on lines of their own, then the rest verbatim.
    first, second, rest = command.split(" && ", 2)
    position = ci_lines.index(first)
    assert ci_lines[position + 1] == second
    assert any(line.startswith(rest) for line in ci_lines[position + 2 :]), f".ci/run does not run {rest!r}"


def test_the_readme_serve_command_installs_the_scimhub_script() -> None:
    first_block = shell_blocks(README.read_text(encoding="utf-8"))[0].strip()
    assert first_block == "python3 -m venv .venv && . .venv/bin/activate && pip install . && scimhub serve"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["scimhub"] == "scimhub.admin.cli:main"


def test_the_licence_file_is_the_one_pyproject_declares() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert project["license"] == "Apache-2.0"
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_links_and_paths_in_the_documents_exist() -> None:
    missing, checked = [], 0
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
        paths = re.findall(r"`((?:src|tests|bench|\.ci)/[\w./-]+)`", text)
        for target in [*(link for link in links if "://" not in link), *paths]:
            checked += 1
            base = ROOT if target in paths else document.parent
            if not (base / target).exists():
                missing.append(f"{document.relative_to(ROOT)}: {target}")
    assert checked > 10, "the patterns no longer find the documents' links and paths"
    assert not missing, missing


def test_nothing_names_a_file_outside_the_repository() -> None:
    found = []
    sources = sorted(p for folder in ("src", "tests", "bench") for p in (ROOT / folder).rglob("*.py"))
    for path in [*DOCUMENTS, CI, ROOT / "pyproject.toml", ROOT / "Dockerfile", *sources]:
        if path.resolve() in MAY_NAME_THE_WORKSPACE:
            continue
        text = path.read_text(encoding="utf-8")
        found += [f"{path.relative_to(ROOT)}: {name}" for name in OUTSIDE if name in text]
    assert not found, found
