"""The README stays what a newcomer needs, and its links lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))


def test_the_readme_is_short_and_has_the_two_commands() -> None:
    text = README.read_text()
    assert len(text.encode()) < 6_000, "configuration, API notes and benchmarks belong in docs/"
    assert "bash scripts/run" in text
    assert "bash scripts/test" in text


def test_every_relative_link_in_the_readme_and_docs_exists() -> None:
    for page in [README, *DOCS]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_the_readme_links_configuration_api_architecture_and_benchmarks() -> None:
    text = README.read_text()
    for doc in ("docs/configuration.md", "docs/api.md", "docs/architecture.md", "docs/benchmarks.md"):
        assert f"]({doc})" in text, doc


def test_benchmark_runs_are_labelled_by_date_and_commit_not_by_sitting() -> None:
    for page in [README, *DOCS]:
        text = page.read_text()
        assert not re.search(r"\b(session|sitting) \d+\b", text, re.IGNORECASE), page.name
    history = (ROOT / "docs" / "benchmarks.md").read_text()
    for intro in re.findall(r"^Runs .*$", history, re.MULTILINE):
        assert re.search(r"\d{4}-\d{2}-\d{2}", intro), intro
