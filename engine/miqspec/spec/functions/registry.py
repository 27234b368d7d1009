"""The custom JMESPath function registry a spec's expressions call.

Takes: the function families (``text``, ``convert``, ``numbers``,
:mod:`miqspec.spec.functions.collections`).
Gives: ``CustomFunctions`` (JMESPath's built-ins plus ours; one instance is one registry),
``DEFAULT_FUNCTIONS``, ``FUNCTION_DOCS`` (one line per custom function), ``BUILTIN_FUNCTIONS``,
``function_names()`` (what the schema allows), ``REPLACED_BUILTINS`` (JMESPath built-ins
defined again: ``abs``, ``floor``, ``ceil`` give null for null) and ``LITERAL_CHECKS`` (the
families' compile-time checks of literal arguments, used by the expression layer).
``find_by`` memoises its indexes inside :func:`miqspec.spec.functions.data.find_by_indexes`
(the parser runs inside one).
Functions a spec declares in JMESPath are added by :mod:`miqspec.spec.spec_functions`.
Raises: ``FunctionError`` (from :mod:`miqspec.spec.functions.args`; a ValueError, made a
MappingError by the expression layer) for unusable input at search time. No I/O.

Conventions: string functions return null for a null subject instead of failing, so a missing
attribute maps to a NULL column; numeric and date conversions return null for unparseable input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jmespath import functions as jp_functions

from miqspec.spec.functions import collections as functions_collections
from miqspec.spec.functions import convert as functions_convert
from miqspec.spec.functions import numbers as functions_numbers
from miqspec.spec.functions import text as functions_text

BUILTIN_FUNCTIONS: frozenset[str] = frozenset(jp_functions.Functions.FUNCTION_TABLE)


class CustomFunctions(jp_functions.Functions):
    """JMESPath's built-in functions plus miqspec's; one instance is one function registry."""

    def __init__(self) -> None:
        #: per-registry compiler state, owned by :mod:`miqspec.spec.expressions`
        self.engine: Any = None
        #: spec function -> (roots, ``$calls`` names) its body reads, with its callees'
        #: (filled by :mod:`miqspec.spec.spec_functions`; a call of it reads them too)
        self.function_reads: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

    # strings and text (miqspec.spec.functions.text)
    _func_lower = functions_text.func_lower
    _func_upper = functions_text.func_upper
    _func_split = functions_text.func_split
    _func_replace = functions_text.func_replace
    _func_regex_replace = functions_text.func_regex_replace
    _func_regex_match = functions_text.func_regex_match
    _func_regex_extract = functions_text.func_regex_extract
    _func_regex_groups = functions_text.func_regex_groups
    _func_regex_named_groups = functions_text.func_regex_named_groups
    _func_basename = functions_text.func_basename
    _func_dirname = functions_text.func_dirname
    _func_last_segment = functions_text.func_last_segment
    _func_eq_ignore_case = functions_text.func_eq_ignore_case
    _func_truncate_bytes = functions_text.func_truncate_bytes

    # conversions: byte units, integers, booleans, dates (miqspec.spec.functions.convert)
    _func_to_bytes = functions_convert.func_to_bytes
    _func_from_bytes = functions_convert.func_from_bytes
    _func_to_int = functions_convert.func_to_int
    _func_to_bool = functions_convert.func_to_bool
    _func_to_iso8601 = functions_convert.func_to_iso8601

    # numbers and digests (miqspec.spec.functions.numbers); abs, floor and ceil replace
    # JMESPath's own (REPLACED_BUILTINS) so that null gives null, as arithmetic does
    _func_round = functions_numbers.func_round
    _func_abs = functions_numbers.func_abs
    _func_floor = functions_numbers.func_floor
    _func_ceil = functions_numbers.func_ceil
    _func_sha256 = functions_numbers.func_sha256
    _func_md5 = functions_numbers.func_md5
    _func_base64_encode = functions_numbers.func_base64_encode
    _func_base64_decode = functions_numbers.func_base64_decode

    # values, objects and arrays, JSON/YAML text (miqspec.spec.functions.collections)
    _func_concat = functions_collections.func_concat
    _func_coalesce = functions_collections.func_coalesce
    _func_get = functions_collections.func_get
    _func_items = functions_collections.func_items
    _func_from_items = functions_collections.func_from_items
    _func_index_of = functions_collections.func_index_of
    _func_uniq = functions_collections.func_uniq
    _func_flatten = functions_collections.func_flatten
    _func_json_parse = functions_collections.func_json_parse
    _func_json_dump = functions_collections.func_json_dump
    _func_if = functions_collections.func_if
    _func_find_by = functions_collections.func_find_by
    _func_find_by_ignore_case = functions_collections.func_find_by_ignore_case
    _func_yaml_parse = functions_collections.func_yaml_parse


#: function name -> argument index -> check of a literal argument (returns a reason or None)
LITERAL_CHECKS: dict[str, dict[int, Callable[[Any], str | None]]] = {
    **functions_text.TEXT_CHECKS,
    **functions_convert.CONVERT_CHECKS,
    **functions_collections.COLLECTION_CHECKS,
    **functions_numbers.NUMBER_CHECKS,
}
#: JMESPath built-ins miqspec defines again (same results, but null gives null)
REPLACED_BUILTINS: frozenset[str] = frozenset({"abs", "floor", "ceil"})

DEFAULT_FUNCTIONS = CustomFunctions()
#: custom function name -> one line "name(args): what it gives", for the spec reference
FUNCTION_DOCS: dict[str, str] = {
    name[6:]: str(method.__doc__)
    for name, method in vars(CustomFunctions).items()
    if name.startswith("_func_")
}


def function_names(registry: CustomFunctions | None = None) -> set[str]:
    """Every function name an expression may call with ``registry`` (default: the shared one)."""
    return set((DEFAULT_FUNCTIONS if registry is None else registry).FUNCTION_TABLE)
