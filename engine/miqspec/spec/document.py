"""Load a YAML spec with the position of every node.

Takes: a file path (or text plus a display name).
Gives: ``LoadedDocument``: the plain data (dicts, lists, scalars) and a map from each spec path
(a tuple of keys and indexes) to the ``Location`` of its value and of its key;
``offset_location`` maps a character of a string value (quoted, plain or block scalar) to its
line and column. YAML merge keys (``<<``) are honoured, explicit keys winning.
Raises: ``SpecError`` with findings for YAML syntax errors, duplicate keys, binary, non-UTF-8 or
oversized input (over 4 MB; no more than that is read), NUL bytes, integers too long to
convert, non-finite numbers (``.nan``, ``.inf``), alias bombs and recursive aliases
(``yaml_limits``) and nesting too deep. Reads the file; no other I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml

from miqspec.errors import Finding, Location, SpecError
from miqspec.spec.yaml_limits import MAX_NODES, SafeLoader, expanded_size

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 200

Path = tuple[str | int, ...]

_Loader: type[Any] = SafeLoader


def format_path(path: Path) -> str:
    """Render ``("calls", "x", "query", 0)`` as ``calls.x.query[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass
class LoadedDocument:
    """A parsed spec with positions."""

    file: str
    data: Any
    positions: dict[Path, Location] = field(default_factory=dict)
    key_positions: dict[Path, Location] = field(default_factory=dict)
    text: str = ""
    _lines: list[str] = field(default_factory=list, repr=False)

    def location(self, path: Path, *, key: bool = False) -> Location:
        """Best location for ``path``: the node itself, else its nearest known ancestor."""
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), Location(self.file, 1, 1))

    def line_text(self, line: int) -> str:
        if not self._lines and self.text:
            self._lines = self.text.splitlines()
        return self._lines[line - 1] if 0 < line <= len(self._lines) else ""

    def offset_location(self, path: Path, offset: int) -> Location:
        """Where character ``offset`` of the string value at ``path`` is in the file.

        Follows quoted, plain and block (``|``/``>``) scalars over several lines; each line
        break of the source counts as one character of the value (YAML folds it to a space or
        keeps it as a newline). Escape sequences are not decoded, so the column is approximate
        after one.
        """
        start = self.location(path)
        line, col = start.line, start.col
        first = self.line_text(line)
        head = first[col - 1 : col]
        segments: list[tuple[int, int, int]] = []  # (line, first column, length)
        if head in ("|", ">"):
            indent = None
            for number in range(line + 1, len(self._lines) + 1):
                text = self.line_text(number)
                if not text.strip():
                    segments.append((number, 1, 0))
                    continue
                width = len(text) - len(text.lstrip(" "))
                indent = width if indent is None else indent
                if width < indent:
                    break
                segments.append((number, indent + 1, len(text) - indent))
        else:
            quote = head if head in ("'", '"') else ""
            begin = col + (1 if quote else 0)
            segments.append((line, begin, len(first) - begin + 1))
            number = line + 1
            while (
                quote
                and _closing_quote(first[begin - 1 :], quote) < 0
                and (number <= len(self._lines))
            ):
                text = self.line_text(number)
                stripped = text.lstrip()
                segments.append((number, len(text) - len(stripped) + 1, len(stripped)))
                if _closing_quote(stripped, quote) >= 0:
                    break
                number += 1
        for i, (number, column, length) in enumerate(segments):
            if offset <= length:
                return Location(self.file, number, column + offset)
            # folding drops the line break before a blank line (a blank line is the newline)
            folded = head != "|" and length and i + 1 < len(segments) and not segments[i + 1][2]
            offset -= length + (0 if folded else 1)
        return Location(self.file, line, col + (1 if head in ("'", '"') else 0))


class _Converter:
    def __init__(self, doc: LoadedDocument) -> None:
        self.doc = doc
        self.findings: list[Finding] = []
        self.constructor = yaml.constructor.SafeConstructor()

    def loc(self, node: yaml.Node) -> Location:
        return Location(self.doc.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def convert(self, node: yaml.Node, path: Path, depth: int) -> Any:
        if depth > MAX_DEPTH:
            _fail(self.loc(node), f"nesting deeper than {MAX_DEPTH} levels")
        self.doc.positions.setdefault(path, self.loc(node))
        if isinstance(node, yaml.MappingNode):
            return self.convert_mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self.construct_scalar(node)

    def convert_mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        merges = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merges.append(value_node)
                continue
            key = self.convert_scalar_key(key_node)
            child = (*path, key)
            if key in out:
                first = self.doc.key_positions.get(child)
                where = f" (first defined at line {first.line})" if first else ""
                self.findings.append(
                    Finding(self.loc(key_node), _fmt(child), f"duplicate key {key!r}{where}")
                )
                continue
            self.doc.key_positions[child] = self.loc(key_node)
            out[key] = self.convert(value_node, child, depth + 1)
        for value_node in merges:  # explicit keys win over merged ones (YAML merge keys)
            merged = self.convert(value_node, path, depth + 1)
            for m in merged if isinstance(merged, list) else [merged]:
                if isinstance(m, dict):
                    for k, v in m.items():
                        out.setdefault(k, v)
        return out

    def convert_scalar_key(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.findings.append(Finding(self.loc(node), "", "mapping keys must be scalars"))
            return f"<complex key at {self.loc(node)}>"
        value = self.construct_scalar(node)
        # keys stay str or int (bool is one); others as text: cerberus cannot order None or 1.5
        return value if isinstance(value, str | int) else str(value)

    def construct_scalar(self, node: yaml.Node) -> Any:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            return self._bad_scalar(node, _one_line(str(exc)))
        except ValueError:  # an integer of more digits than Python converts (4,300)
            return self._bad_scalar(node, "number with too many digits")
        if isinstance(value, float) and not math.isfinite(value):
            return self._bad_scalar(node, f"{node.value} is not a finite number")
        return value

    def _bad_scalar(self, node: yaml.Node, message: str) -> None:
        self.constructor = yaml.constructor.SafeConstructor()
        self.findings.append(Finding(self.loc(node), "", message))


def _fail(where: Location, message: str) -> NoReturn:
    """Raise the one-finding ``SpecError`` for ``message`` at ``where``."""
    raise SpecError(f"{where}: {message}", [Finding(where, "", message)])


def _closing_quote(text: str, quote: str) -> int:
    """Index of the quote that closes a scalar in ``text`` (after the opening one), or -1."""
    index = 0
    while index < len(text):
        char = text[index]
        if quote == '"' and char == "\\":
            index += 2
            continue
        if char == quote:
            if quote == "'" and text[index + 1 : index + 2] == "'":
                index += 2
                continue
            return index
        index += 1
    return -1


def _fmt(path: Path) -> str:
    return format_path(path)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def load_text(text: str, file: str) -> LoadedDocument:
    """Parse ``text`` (named ``file`` in messages) into a ``LoadedDocument``."""
    doc = LoadedDocument(file=file, data=None, text=text)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        _fail(Location(file, line, 1), "not a YAML text file (contains NUL bytes)")
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        _fail(Location(file, line, col), "YAML syntax error: " + _syntax_problem(exc, doc))
    except yaml.YAMLError as exc:
        _fail(Location(file, 1, 1), f"YAML error: {_one_line(str(exc))}")
    except RecursionError:
        _fail(Location(file, 1, 1), "nesting too deep to parse")
    if node is None:
        _fail(Location(file, 1, 1), "the spec is empty")
    conv = _Converter(doc)
    size = expanded_size(node, MAX_NODES) if "*" in text else 0  # only aliases expand
    if size is None:
        _fail(conv.loc(node), "an alias refers to a node that contains it (recursive YAML)")
    if size > MAX_NODES:
        _fail(conv.loc(node), f"document expands to more than {MAX_NODES} nodes (YAML alias bomb?)")
    try:
        doc.data = conv.convert(node, (), 0)
    except RecursionError:
        _fail(Location(file, 1, 1), "nesting too deep to parse")
    if conv.findings:
        findings = sorted(conv.findings)
        raise SpecError(str(findings[0]), findings)
    return doc


def _syntax_problem(exc: yaml.MarkedYAMLError, doc: LoadedDocument) -> str:
    """PyYAML's problem in one line, with where the broken construct started and tab hints."""
    problem = _one_line(exc.problem or exc.context or "invalid YAML")
    mark, context = exc.problem_mark, exc.context_mark
    tab = doc.line_text(mark.line + 1)[mark.column : mark.column + 1] == "\t" if mark else False
    if tab or "tab character" in problem:
        return problem + ("" if "tab" in problem else " (a tab)") + "; indent YAML with spaces"
    if (
        exc.problem
        and exc.context
        and context is not None
        and (mark is None or context.line != mark.line)
    ):
        problem += f" ({_one_line(exc.context)} started at line {context.line + 1})"
    return problem


def load_file(path: str) -> LoadedDocument:
    """Read and parse the spec at ``path``."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)  # never more: /dev/zero has no size to check first
    except OSError as exc:
        _fail(Location(path, 1, 1), f"cannot read: {exc.strerror or exc}")
    if len(raw) > MAX_BYTES:
        _fail(
            Location(path, 1, 1),
            f"file is larger than {MAX_BYTES // (1024 * 1024)} MB, the limit for a spec",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        _fail(Location(path, line, col), f"not a UTF-8 text file (byte {exc.start})")
    return load_text(text, path)
