"""errors: one-line messages with secrets masked in every spelling."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus, urlencode

from miqspec.errors import MASK, ApiError, mask_secrets

SECRET = 'p@ss w/rd=&"x'


def test_a_secret_is_masked_as_written_and_as_a_url_or_json_spells_it() -> None:
    texts = [
        f"login failed for {SECRET}",
        f"GET https://api.test/v1?{urlencode({'key': SECRET})} answered 500",
        f"GET https://api.test/v1/{quote(SECRET, safe='')}/items answered 404",
        f"body {json.dumps({'password': SECRET})} refused",
        f"form key={quote_plus(SECRET)} refused",
    ]
    for text in texts:
        masked = mask_secrets(text, [SECRET])
        assert MASK in masked
        for spelling in (SECRET, quote(SECRET, safe=""), quote_plus(SECRET)):
            assert spelling not in masked, text
        assert json.dumps(SECRET)[1:-1] not in masked


def test_empty_secrets_mask_nothing() -> None:
    assert mask_secrets("id 42 of ab", ["", None]) == "id 42 of ab"


def test_short_secrets_are_masked_where_they_stand_alone() -> None:
    # issue 14: a one- or two-character password is a secret too
    assert mask_secrets("id 42 of ab", ["ab"]) == f"id 42 of {MASK}"
    assert mask_secrets("login ab:x@host failed", ["x"]) == f"login ab:{MASK}@host failed"
    assert mask_secrets("password=%21 rejected", ["!"]) == f"password={MASK} rejected"
    # not inside longer words or numbers: the message stays readable
    assert mask_secrets("table abc, 1 of 401", ["ab", "1"]) == f"table abc, {MASK} of 401"


def test_errors_are_one_line_and_masked() -> None:
    err = ApiError(f"call\n  failed with {quote(SECRET, safe='')}", secrets=[SECRET])
    assert str(err) == f"call failed with {MASK}"
