"""Load a YAML spec with the position of every node.

Takes: a file path (or text plus a display name).
Gives: ``LoadedDocument``: the plain data (dicts, lists, scalars) and a map from each spec path
(a tuple of keys and indexes) to the ``Location`` of its value and of its key.
Raises: ``SpecError`` with findings for YAML syntax errors, duplicate keys, binary or oversized
input, alias bombs and nesting too deep. Reads the file; no other I/O.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Finding, Location, SpecError

MAX_BYTES = 4 * 1024 * 1024
MAX_NODES = 500_000
MAX_DEPTH = 200

Path = tuple[str | int, ...]

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""


class _Converter:
    def __init__(self, doc: LoadedDocument) -> None:
        self.doc = doc
        self.count = 0
        self.findings: list[Finding] = []

    def loc(self, node: yaml.Node) -> Location:
        return Location(self.doc.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def convert(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise SpecError(
                f"{self.loc(node)}: document expands to more than {MAX_NODES} nodes "
                "(YAML alias bomb?)"
            )
        if depth > MAX_DEPTH:
            raise SpecError(f"{self.loc(node)}: nesting deeper than {MAX_DEPTH} levels")
        self.doc.positions.setdefault(path, self.loc(node))
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    merged = self.convert(value_node, path, depth + 1)
                    for m in merged if isinstance(merged, list) else [merged]:
                        if isinstance(m, dict):
                            for k, v in m.items():
                                out.setdefault(k, v)
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
            return out
        if isinstance(node, yaml.SequenceNode):
            return [
                self.convert(item, (*path, i), depth + 1) for i, item in enumerate(node.value)
            ]
        return self.construct_scalar(node)

    def convert_scalar_key(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.findings.append(Finding(self.loc(node), "", "mapping keys must be scalars"))
            return f"<complex key at {self.loc(node)}>"
        value = self.construct_scalar(node)
        return value if isinstance(value, str | int | float | bool) or value is None else str(value)

    def construct_scalar(self, node: yaml.Node) -> Any:
        loader = _Loader("")
        try:
            return loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.findings.append(Finding(self.loc(node), "", _one_line(str(exc))))
            return None
        finally:
            loader.dispose()


def _fmt(path: Path) -> str:
    return format_path(path)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def load_text(text: str, file: str) -> LoadedDocument:
    """Parse ``text`` (named ``file`` in messages) into a ``LoadedDocument``."""
    doc = LoadedDocument(file=file, data=None, text=text)
    if "\x00" in text:
        raise SpecError(f"{file}:1:1: not a YAML text file (contains NUL bytes)")
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(
            f"{file}:{line}:{col}: YAML syntax error: {_one_line(problem)}",
            [Finding(Location(file, line, col), "", f"YAML syntax error: {_one_line(problem)}")],
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{file}:1:1: YAML error: {_one_line(str(exc))}") from None
    except RecursionError:
        raise SpecError(f"{file}:1:1: nesting too deep to parse") from None
    if node is None:
        raise SpecError(f"{file}:1:1: the spec is empty")
    conv = _Converter(doc)
    try:
        doc.data = conv.convert(node, (), 0)
    except RecursionError:
        raise SpecError(f"{file}:1:1: nesting too deep to parse") from None
    if conv.findings:
        findings = sorted(conv.findings)
        raise SpecError(str(findings[0]), findings)
    return doc


def load_file(path: str) -> LoadedDocument:
    """Read and parse the spec at ``path``."""
    try:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise SpecError(
                f"{path}:1:1: file is {size / 1e6:.1f} MB; specs are limited to "
                f"{MAX_BYTES // (1024 * 1024)} MB"
            )
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}:1:1: not a UTF-8 text file (byte {exc.start})") from None
    return load_text(text, path)
