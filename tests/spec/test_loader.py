"""The spec loader: positions of nodes and robustness against hostile or broken input.

Every bad input must give a one-line ``SpecError`` with findings from ``load_file`` (never any
other exception), and through ``miqspec validate`` exit 1 without a traceback, quickly.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from miqspec.cli.app import main
from miqspec.errors import SpecError
from miqspec.spec import document as loader
from miqspec.spec.document import format_path, load_file, load_text
from miqspec.spec.load import check_file

REPO = Path(__file__).resolve().parents[2]
LIMIT_SECONDS = 3.0


def _nested_mapping(levels: int) -> bytes:
    return ("".join("  " * i + f"k{i}:\n" for i in range(levels)) + "  " * levels + "x\n").encode()


def _alias_bomb() -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return ("\n".join(lines) + "\n").encode()


# name -> (file content, whether load_file must fail)
HOSTILE: dict[str, tuple[Callable[[], bytes], bool]] = {
    "not_yaml": (lambda: b"{{{ this is : not ] yaml", True),
    "binary": (lambda: bytes(range(256)) * 16, True),
    "empty": (lambda: b"", True),
    "comments_only": (lambda: b"# nothing here\n", True),
    "top_level_list": (lambda: b"- version: 1\n- provider: {}\n", False),
    "top_level_scalar": (lambda: b"just a string\n", False),
    "nesting_50": (lambda: _nested_mapping(50), False),
    "nesting_300": (lambda: _nested_mapping(300), True),
    "nesting_5000_block": (lambda: _nested_mapping(5000), True),
    "nesting_5000_flow": (lambda: b"[" * 5000 + b"]" * 5000, True),
    "alias_bomb": (_alias_bomb, True),
    "recursive_alias": (lambda: b"a: &a [*a]\n", True),
    "ten_megabytes": (lambda: b"version: 1\n# " + b"x" * (10 * 1024 * 1024) + b"\n", True),
    "nul_byte": (lambda: b"version: 1\nprovider: a\x00b\n", True),
    "invalid_utf8": (lambda: b"version: 1\nprovider:\n  title: caf\xe9\n", True),
    "utf16": (lambda: "version: 1\n".encode("utf-16"), True),
    "duplicate_keys": (lambda: b"version: 1\nversion: 1\n", True),
    "tabs": (lambda: b"version: 1\nprovider:\n\tname: x\n", True),
    "unclosed_flow": (lambda: b"calls: {a: [1, 2}\n", True),
    "bad_tag": (lambda: b"version: !!python/object:os.system 1\n", True),
    "complex_key": (lambda: b"? [a, b]\n: 1\n", True),
}


@pytest.fixture(params=sorted(HOSTILE), ids=str)
def hostile(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, bool]:
    make, fails = HOSTILE[request.param]
    path = tmp_path / f"{request.param}.yaml"
    path.write_bytes(make())
    return path, fails


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def test_load_file_raises_only_spec_errors(hostile: tuple[Path, bool]) -> None:
    path, fails = hostile
    start = time.perf_counter()
    try:
        load_file(str(path))
    except SpecError as exc:
        assert fails, f"unexpected SpecError: {exc}"
        assert "\n" not in str(exc)
        assert str(exc).startswith(f"{path}:")
        assert exc.findings and all(f.location.line >= 1 for f in exc.findings)
    else:
        assert not fails, "load_file accepted hostile input"
    assert time.perf_counter() - start < LIMIT_SECONDS


def test_check_file_gives_one_line_findings(hostile: tuple[Path, bool]) -> None:
    path, _ = hostile
    findings, seconds = _timed(lambda: check_file(str(path)))
    assert isinstance(findings, list) and findings
    for finding in findings:
        assert "\n" not in str(finding)
        assert finding.location.file == str(path) and finding.location.line >= 1
    assert seconds < LIMIT_SECONDS


def test_validate_command_exits_1_without_traceback(hostile: tuple[Path, bool]) -> None:
    path, _ = hostile
    result, seconds = _timed(lambda: CliRunner().invoke(main, ["validate", str(path)]))
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]
    assert result.exception is None or isinstance(result.exception, SystemExit)  # type: ignore[attr-defined]
    assert seconds < LIMIT_SECONDS


def test_validate_subprocess_all_hostile_files(tmp_path: Path) -> None:
    paths = []
    for name, (make, _) in sorted(HOSTILE.items()):
        path = tmp_path / f"{name}.yaml"
        path.write_bytes(make())
        paths.append(str(path))
    cli = [str(Path(sys.executable).with_name("miqspec")), "validate", *paths]
    result, seconds = _timed(
        lambda: subprocess.run(cli, capture_output=True, text=True, timeout=60, check=False)
    )
    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    for name in paths:
        assert f"{name}:" in result.stdout
    assert seconds < 2 * LIMIT_SECONDS


def test_messages_for_common_mistakes() -> None:
    def first(text: str) -> str:
        with pytest.raises(SpecError) as info:
            load_text(text, "s.yaml")
        return str(info.value)

    assert first("a: 1\na: 2\n") == "s.yaml:2:1: a: duplicate key 'a' (first defined at line 1)"
    assert "indent YAML with spaces" in first("a:\n\tb: 1\n")
    assert first('a: "open\nb: 1\n').endswith("(while scanning a quoted scalar started at line 1)")
    assert first("") == "s.yaml:1:1: the spec is empty"
    assert first("a: [1\n").startswith("s.yaml:2:1: YAML syntax error:")
    assert first("a: b\x00c\n") == "s.yaml:1:1: not a YAML text file (contains NUL bytes)"


def test_positions_of_values_and_keys() -> None:
    doc = load_text("version: 1\nprovider:\n  name: x\n  list: [a, {b: c}]\n", "s.yaml")
    assert doc.data == {"version": 1, "provider": {"name": "x", "list": ["a", {"b": "c"}]}}
    assert (doc.positions[("provider", "name")].line, doc.positions[("provider", "name")].col) == (
        3,
        9,
    )
    assert doc.key_positions[("provider", "name")].col == 3
    assert doc.positions[("provider", "list", 1, "b")].col == doc.line_text(4).index("c}") + 1
    assert doc.location(("provider", "missing", 0)) == doc.positions[("provider",)]
    assert doc.location(("provider", "name"), key=True) == doc.key_positions[("provider", "name")]
    assert format_path(("calls", "x", "query", 0, "a")) == "calls.x.query[0].a"


@pytest.mark.parametrize(
    ("text", "offset", "where"),
    [
        ("k: abc.def\n", 4, (1, 8)),
        ("k: 'abc.def'\n", 4, (1, 9)),
        ('k: "abc.def"\n', 0, (1, 5)),
        ('k: "first\n  second"\n', 7, (2, 4)),
        ("k: >-\n  abc\n  defgh\n", 6, (3, 5)),
        ("k: |\n    abc\n    def\n", 4, (3, 5)),
        ("- k: >\n    abc\n\n    def\n", 5, (4, 6)),
    ],
)
def test_offset_location_follows_scalar_styles(
    text: str, offset: int, where: tuple[int, int]
) -> None:
    doc = load_text(text, "s.yaml")
    path: tuple[str | int, ...] = (0, "k") if text.startswith("-") else ("k",)
    loc = doc.offset_location(path, offset)
    assert (loc.line, loc.col) == where
    value = doc.data[0]["k"] if text.startswith("-") else doc.data["k"]
    line = doc.line_text(loc.line)
    assert line[loc.col - 1] == value.replace("\n", " ")[offset] or value[offset] == "\n"


def test_merge_keys_explicit_keys_win_and_are_not_duplicates() -> None:
    doc = load_text("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n", "s.yaml")
    assert doc.data["c"] == {"x": 3, "y": 2}
    assert doc.positions[("c", "x")].line == 4


def test_aliases_under_the_node_limit_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_NODES", 100)
    doc = load_text("a: &a [1, 2, 3]\nb: [*a, *a]\n", "s.yaml")
    assert doc.data["b"] == [[1, 2, 3], [1, 2, 3]]
    with pytest.raises(SpecError, match="more than 100 nodes"):
        load_text(
            "a: &a [" + ",".join(["1"] * 20) + "]\nb: [" + ",".join(["*a"] * 6) + "]\n", "s.yaml"
        )


def test_unreadable_path_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_file(str(tmp_path))
    with pytest.raises(SpecError, match="cannot read"):
        load_file(str(tmp_path / "missing.yaml"))
