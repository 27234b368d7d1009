"""Origins: where a provider's credentials may go (scheme, host, port), and nowhere else.

Takes: URLs. Gives: ``origin_of(url)`` (``("https", "api.example.com", 443)``; default ports
filled in, host lower-cased), ``show(origin)`` (``https://api.example.com``) and
``literal_origin(template_text)`` (the origin a URL template names in plain text, before any
``{{``, if it names one) and ``OriginPattern`` (an ``allowed_origins`` entry of a spec:
``https://api.example.com``, ``https://*.blob.core.windows.net``, ``http://10.0.0.1:8080``).
Raises ``ApiError`` for a URL with no usable scheme or host, ``ValueError`` for a bad pattern.
No I/O.

The rule the session enforces with these: a URL the spec builds from its own templates (service
base URLs, login steps, absolute call paths written in the spec) defines a trusted origin; a URL
an API hands back (a next-page link, a Link header, a record's href) must be on a trusted origin
(or one the spec lists in ``connection.allowed_origins``), else the request is refused before
anything is sent. Redirects to another origin are followed without any credential.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from miqspec.errors import ApiError

Origin = tuple[str, str, int]
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> Origin:
    """The origin of an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ApiError(f"not a usable URL: {url[:200]!r}") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        raise ApiError(f"not an http(s) URL with a host: {url[:200]!r}")
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme]


def show(origin: Origin) -> str:
    """``scheme://host[:port]`` (the port only when it is not the scheme's default)."""
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + ("" if DEFAULT_PORTS.get(scheme) == port else f":{port}")


def literal_origin(text: str) -> Origin | None:
    """The origin a URL template spells out before any template syntax, if it does:
    ``https://login.example.com/{{ x }}`` -> that host; ``{{ item.href }}`` -> None."""
    if not text.startswith(("http://", "https://")):
        return None
    rest = text.split("://", 1)[1]
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    if "{" in authority or "%" in authority or "}" in authority:
        return None
    if "/" not in rest and "{" in text:  # the template might continue the host
        return None
    try:
        return origin_of(text.split("://", 1)[0] + "://" + authority)
    except ApiError:
        return None


class OriginPattern:
    """An allowed origin: exact, or ``*.`` + a domain (any host below it, at least one label)."""

    __slots__ = ("port", "scheme", "suffix", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        wild = "://*." in text
        try:
            scheme, host, port = origin_of(text.replace("://*.", "://wildcard.", 1))
        except ApiError:
            raise ValueError(f"not an origin: {text!r} (write scheme://host[:port])") from None
        rest = text.split("://", 1)[1]
        if rest.strip("/").count("/") or "?" in rest or "#" in rest or "@" in rest:
            raise ValueError(f"not an origin: {text!r} (no path, query or user part)")
        self.scheme, self.port = scheme, port
        self.suffix = "." + host.removeprefix("wildcard.") if wild else host

    def matches(self, origin: Origin) -> bool:
        scheme, host, port = origin
        if scheme != self.scheme or port != self.port:
            return False
        if self.suffix.startswith("."):
            return host.endswith(self.suffix) and len(host) > len(self.suffix)
        return host == self.suffix
