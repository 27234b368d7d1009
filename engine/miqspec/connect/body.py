"""Reading a response body bounded in time and in size.

Takes: a streamed ``requests.Response``, a deadline (a ``time.monotonic()`` instant), the read
timeout and a byte limit. Gives: the body bytes (decoded as the Content-Encoding says).
Raises: ``requests.exceptions.Timeout`` past the deadline, ``BodyTooLarge`` over the limit,
urllib3's errors for a broken stream (``http`` turns them into ``MiqspecError``s). Network I/O.
"""

from __future__ import annotations

import contextlib
import time

import requests

#: the most bytes one response body may have (decoded); more is an API error, never read
MAX_BODY = 256 * 1024 * 1024
_CHUNK = 256 * 1024


class BodyTooLarge(Exception):
    pass


def read_body(resp: requests.Response, deadline: float, read_timeout: float, limit: int) -> bytes:
    """The response body, read at most ``limit`` bytes, by deadline ``deadline``.

    Reads one socket receive at a time (``read1``), so a body dripped a byte at a time cannot
    outrun the deadline; before each receive the socket's timeout is cut to what is left.
    Raises ``requests.exceptions.Timeout`` past the deadline, ``BodyTooLarge`` over ``limit``,
    urllib3's errors for a broken stream.
    """
    if getattr(resp, "_content_consumed", False):  # a replayed cassette answer: in memory
        body = resp.content or b""
        if len(body) > limit:
            raise BodyTooLarge()
        return body
    raw = resp.raw
    conn = getattr(raw, "connection", None)
    sock = getattr(conn, "sock", None)
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise requests.exceptions.Timeout()
        if sock is not None and remaining < read_timeout:
            with contextlib.suppress(OSError):
                sock.settimeout(remaining)
        chunk = raw.read1(_CHUNK, decode_content=True)
        if not chunk:  # read1 decodes until it has bytes or the body ended
            break
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
    raw.release_conn()
    return b"".join(chunks)
