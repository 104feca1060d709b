"""docs/rules.md is the rulebook the code cites: every rule cited anywhere is defined there, and
every module and test it names exists. Links between the documents resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ..factories import ROOT

pytestmark = pytest.mark.unit

RULES = ROOT / "docs" / "rules.md"
HEADING = re.compile(r"^### Rule (\d+) — ", re.MULTILINE)
REFERENCE = re.compile(r"`((?:plugins|dags|include|tests|benchmarks|config|docs)/[^`\s:]+)(?:::(\w+))?`")
#: "rule 8", "Rule 10", "rules 6–10, 27", "rules 2, 3, 22–26", "rules 18, 19 and 21"
CITATION = re.compile(r"\b[Rr]ules? (\d+(?:\s*(?:,|–|-|and)\s*\d+)*)")
SCANNED = ("README.md", "docs", "plugins", "dags", "include", "tests", "benchmarks", "docker-compose.yml")


def sections() -> dict[int, str]:
    text = RULES.read_text(encoding="utf-8")
    marks = list(HEADING.finditer(text))
    return {int(m.group(1)): text[m.start():(marks[i + 1].start() if i + 1 < len(marks) else len(text))]
            for i, m in enumerate(marks)}


def cited_numbers(text: str) -> set[int]:
    found: set[int] = set()
    for m in CITATION.finditer(text):
        for part in re.split(r"\s*(?:,|and)\s*", m.group(1)):
            bounds = re.split(r"\s*[–-]\s*", part)  # "22–26" or "8"
            found.update(range(int(bounds[0]), int(bounds[-1]) + 1))
    found.update(int(n) for n in re.findall(r"\btest_rule(\d+)", text))
    found.update(int(n) for n in re.findall(r"_rule(\d+)_", text))
    return found


def scanned_files() -> list[Path]:
    out = []
    for name in SCANNED:
        path = ROOT / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        out += [f for f in files if f.suffix in (".py", ".sql", ".md", ".yml") and "__pycache__" not in f.parts]
    return out


def test_rules_are_numbered_one_to_n_without_gaps():
    numbers = list(sections())
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 28


def test_every_rule_names_its_modules_and_tests_and_they_exist():
    for number, body in sections().items():
        refs = REFERENCE.findall(body)
        assert any(p.startswith("tests/") for p, _ in refs), f"rule {number} names no test"
        assert any(not p.startswith("tests/") for p, _ in refs), f"rule {number} names no module"
        for path, name in refs:
            assert (ROOT / path).exists(), f"rule {number}: {path} does not exist"
            if name:
                source = (ROOT / path).read_text(encoding="utf-8")
                assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"rule {number}: no {name} in {path}"


def test_every_rule_cited_in_the_repository_is_defined():
    defined = set(sections())
    missing = {}
    for path in scanned_files():
        unknown = cited_numbers(path.read_text(encoding="utf-8", errors="replace")) - defined
        if unknown:
            missing[str(path.relative_to(ROOT))] = sorted(unknown)
    assert missing == {}


def test_citation_parser_reads_lists_and_ranges():
    assert cited_numbers("(rules 2, 3, 22–26)") == {2, 3, 22, 23, 24, 25, 26}
    assert cited_numbers("Rule 8: … rules 18, 19 and 21; test_rule17_rule18_x") == {8, 17, 18, 19, 21}


def test_links_between_documents_resolve():
    broken = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if not re.match(r"^[a-z]+:", target) and not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(ROOT)} → {target}")
    assert broken == []
