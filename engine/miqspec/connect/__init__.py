"""Connect: an authenticated HTTP session to a provider, pagination, recorded traffic.

Offers: ``ProviderSession`` (URLs from services, auth kinds, login flows, re-login),
``HttpClient``/``HttpResponse`` (the only user of ``requests``: deadlines, retries, error
classification), the paginators (``first_request``/``next_request`` over ``PageRequest``,
``PageResponse``, ``PageState``; no I/O), cassettes (``Cassette``, ``RecordingAdapter``,
``ReplayAdapter``), ``RequestMemo`` (identical reads sent once) and ``secret_values`` (what
must be masked). Uses ``spec`` only.
"""

from .cassettes import Cassette, RecordingAdapter, ReplayAdapter
from .http import BadBody, HttpClient, HttpResponse
from .memo import RequestMemo
from .pagination import PageRequest, PageResponse, PageState, first_request, next_request
from .session import ProviderSession, secret_values

__all__ = [
    "BadBody",
    "Cassette",
    "HttpClient",
    "HttpResponse",
    "PageRequest",
    "PageResponse",
    "PageState",
    "ProviderSession",
    "RecordingAdapter",
    "ReplayAdapter",
    "RequestMemo",
    "first_request",
    "next_request",
    "secret_values",
]
