"""The validator against invalid (and a few valid) specs kept as data in tests/spec/spec_errors/.

Each case is a YAML spec whose first comment lines state every expected finding, in order:
``# expect: line:col: path: message`` (``line:col: message`` for findings without a path), or
``# valid: ...`` for a spec that must validate clean.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from miqspec.errors import Finding
from miqspec.spec.catalogue import load_catalogue
from miqspec.spec.checks import check_document
from miqspec.spec.document import load_file
from miqspec.spec.load import check_file

CASES_DIR = Path(__file__).parent / "spec_errors"
CASES = sorted(CASES_DIR.glob("*.yaml"))
EXPECT = "# expect: "
VALID = "# valid:"
XFAIL = "# xfail:"


def _header(path: Path) -> tuple[list[str], bool]:
    """The ``# expect:`` lines of a case and whether it is marked valid."""
    expected: list[str] = []
    valid = False
    for line in _comments(path):
        if line.startswith(EXPECT):
            expected.append(line[len(EXPECT) :])
        valid = valid or line.startswith(VALID)
    return expected, valid


def _comments(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        line for line in lines[: next((i for i, t in enumerate(lines) if t[:1] != "#"), len(lines))]
    ]


def _case_param(path: Path) -> object:
    """The case as a pytest param; ``# xfail: reason`` marks a known validator bug (strict)."""
    reasons = [line[len(XFAIL) :].strip() for line in _comments(path) if line.startswith(XFAIL)]
    marks = [pytest.mark.xfail(reason=reasons[0], strict=True)] if reasons else []
    return pytest.param(path, marks=marks, id=path.stem)


@functools.cache
def _findings(case: Path) -> list[Finding]:
    return check_file(str(case))


def _render(finding: Finding) -> str:
    where = f"{finding.location.line}:{finding.location.col}"
    return (
        f"{where}: {finding.path}: {finding.message}"
        if finding.path
        else (f"{where}: {finding.message}")
    )


def test_there_are_enough_cases() -> None:
    headers = [_header(case) for case in CASES]
    assert len(CASES) >= 45
    assert sum(1 for _, valid in headers if valid) >= 3
    for case, (expected, valid) in zip(CASES, headers, strict=True):
        assert bool(expected) != valid, f"{case.name}: needs '# expect:' lines or '# valid:'"


@pytest.mark.parametrize("case", [_case_param(p) for p in CASES])
def test_case(case: Path) -> None:
    expected, _ = _header(case)
    findings = _findings(case)
    assert [_render(f) for f in findings] == expected
    assert all(f.location.file == str(case) for f in findings)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_caret_marks_the_reported_column(case: Path) -> None:
    lines = case.read_text(encoding="utf-8").splitlines()
    for finding in _findings(case):
        if finding.caret:
            source, marker = finding.caret.split("\n")
            assert source == lines[finding.location.line - 1]
            assert marker == " " * (finding.location.col - 1) + "^"


def test_findings_are_sorted_and_unique() -> None:
    for case in CASES:
        findings = _findings(case)
        assert findings == sorted(set(findings)), case.name


def test_check_document_never_raises_on_loadable_cases() -> None:
    catalogue = load_catalogue()
    loaded = 0
    for case in CASES:
        try:
            doc = load_file(str(case))
        except Exception as exc:  # loading errors are SpecError, tested in test_loader
            assert type(exc).__name__ == "SpecError"
            continue
        loaded += 1
        assert check_document(doc, catalogue) == _findings(case)
    assert loaded >= 40
