"""``miqspec validate``: text and JSON output, exit codes 0 (valid), 1 (invalid), 2 (usage)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from miqspec.cli.app import main
from miqspec.spec.load import check_file

REPO = Path(__file__).resolve().parents[2]
AWESOME = str(REPO / "provider_specs" / "awesome_cloud.yaml")
CASES = Path(__file__).parents[1] / "spec" / "spec_errors"
WITH_CARETS = str(CASES / "34_jinja_syntax_errors.yaml")
PLAIN = str(CASES / "55_unknown_calls.yaml")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_valid_spec_exits_0() -> None:
    assert _run(AWESOME) == (0, "1 spec(s) valid\n", "")


def test_findings_print_as_file_line_col_path_message() -> None:
    code, out, _ = _run(PLAIN)
    assert code == 1
    assert out.splitlines() == [str(f) for f in check_file(PLAIN)]
    assert all(line.startswith(f"{PLAIN}:") for line in out.splitlines())


def test_syntax_errors_add_caret_lines_under_the_column() -> None:
    code, out, _ = _run(WITH_CARETS)
    findings = check_file(WITH_CARETS)
    expected: list[str] = []
    for f in findings:
        expected.append(str(f))
        expected += [f"    | {line}" for line in f.caret.splitlines()]
    assert code == 1
    assert out.splitlines() == expected
    assert any(f.caret for f in findings)


def test_json_format_lists_the_same_findings() -> None:
    code, out, _ = _run("--format", "json", WITH_CARETS, PLAIN)
    assert code == 1
    data = json.loads(out)
    assert data == [f.as_dict() for f in check_file(WITH_CARETS) + check_file(PLAIN)]
    assert set(data[0]) == {"file", "line", "col", "path", "message"}


def test_json_format_of_a_valid_spec_is_an_empty_list() -> None:
    code, out, _ = _run("--format", "json", AWESOME)
    assert (code, json.loads(out)) == (0, [])


def test_one_invalid_file_among_valid_ones_exits_1() -> None:
    code, out, _ = _run(AWESOME, PLAIN, AWESOME)
    assert code == 1
    assert out.splitlines() == [str(f) for f in check_file(PLAIN)]


def test_several_valid_files_are_counted() -> None:
    assert _run(AWESOME, AWESOME)[:2] == (0, "2 spec(s) valid\n")


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = _run(str(tmp_path / "nope.yaml"))
    assert (code, out) == (2, "")
    assert "no such file" in err


def test_usage_errors_exit_2() -> None:
    assert _run()[0] == 2
    assert _run("--format", "xml", AWESOME)[0] == 2
    assert _run(str(REPO))[0] == 2  # a directory


def test_loader_failures_are_findings_not_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"version: 1\n\tprovider: x\n")
    code, out, err = _run(str(bad))
    assert (code, err) == (1, "")
    assert out.startswith(f"{bad}:2:1: YAML syntax error: ")
    assert out.rstrip().endswith("indent YAML with spaces")


def test_end_to_end_subprocess() -> None:
    cli = str(Path(sys.executable).with_name("miqspec"))
    ok = subprocess.run([cli, "validate", AWESOME], capture_output=True, text=True, check=False)
    assert (ok.returncode, ok.stdout) == (0, "1 spec(s) valid\n")
    bad = subprocess.run(
        [cli, "validate", "--format", "json", PLAIN], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1
    assert json.loads(bad.stdout) == [f.as_dict() for f in check_file(PLAIN)]
