"""What a login step's answer gives: its ``extract`` values, read by the step's ``format``.

Takes: a ``LoginStep`` and the ``HttpResponse`` its request got. Gives: ``read_extracts`` (the
login variables: ``body`` paths over the answer read as JSON, as XML data (as calls read XML:
``@attr``, ``#text``, namespaces dropped) or as the text itself; ``header`` and ``cookie``
values as sent). Raises: ``CredentialsError`` naming the step when a value is missing or empty,
``ApiError`` (``BadBody``) when the body is not what ``format`` says. No I/O.
"""

from __future__ import annotations

from typing import Any

from miqspec.connect.http import HttpResponse
from miqspec.errors import CredentialsError
from miqspec.spec import LoginStep


def step_body(step: LoginStep, resp: HttpResponse) -> Any:
    """The answer's body as the step's ``format`` reads it (json, xml or text)."""
    if step.format == "xml":
        return resp.xml(step.xml_force_list)
    if step.format == "text":
        return resp.text
    return resp.json()


def read_extracts(step: LoginStep, resp: HttpResponse) -> dict[str, Any]:
    """Every variable ``step`` extracts from ``resp``, none missing or empty."""
    out: dict[str, Any] = {}
    body: Any = None
    read = False
    for ex in step.extract:
        if ex.kind == "body":
            if not read:
                body, read = step_body(step, resp), True
            value = ex.expression.search(body) if ex.expression else None
        elif ex.kind == "header":
            value = resp.headers.get(ex.source)
        else:
            value = resp.cookies.get(ex.source)
        if value in (None, ""):
            raise CredentialsError(
                f"login step '{step.name}' gave no {ex.kind} '{ex.source}' for '{ex.var}'"
            )
        out[ex.var] = value
    return out
