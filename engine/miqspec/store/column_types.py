"""Column types for miqspec's tables: catalogue type names to SQLAlchemy types.

Takes: a catalogue column type name (``string``, ``json``, ``decimal``, ...; the names
:data:`miqspec.spec.catalogue.COLUMN_TYPES` lists).
Gives: ``column_type(kind)`` (a fresh SQLAlchemy type) and the custom types ``JsonText``
(serialized hash/array in a text column), ``StringArray`` (PostgreSQL array, JSON text
elsewhere) and ``DecimalType`` (exact on SQLite too).
Raises: ``SpecError`` for an unknown column type name. No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from miqspec.errors import SpecError


class JsonText(TypeDecorator[Any]):
    """A serialized hash/array stored as JSON text (ManageIQ's serialized text columns)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value, default=str)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class StringArray(TypeDecorator[list[str]]):
    """A list of strings: ``varchar[]`` on PostgreSQL, JSON text elsewhere."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(String()))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        items = [str(v) for v in value]
        return items if dialect.name == "postgresql" else json.dumps(items)

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str] | None:
        if value is None:
            return None
        return list(value) if dialect.name == "postgresql" else list(json.loads(value))


class DecimalType(TypeDecorator[Decimal]):
    """Exact decimals: NUMERIC on PostgreSQL, the decimal's text on SQLite (no float rounding)."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(Decimal(str(value))) if dialect.name == "sqlite" else Decimal(str(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


_TYPES: Mapping[str, Any] = {
    "string": String,
    "text": Text,
    "integer": Integer,
    "bigint": BigInteger,
    "float": Float,
    "decimal": DecimalType,
    "boolean": Boolean,
    "datetime": DateTime,
    "date": Date,
    "json": JsonText,
    "string_array": StringArray,
    "binary": LargeBinary,
}


def column_type(kind: str) -> TypeEngine[Any]:
    """The SQLAlchemy type for a catalogue column type name."""
    try:
        result: TypeEngine[Any] = _TYPES[kind]()
    except KeyError:
        raise SpecError(f"inventory catalogue: unknown column type {kind!r}") from None
    return result
