"""Canonical JSON and content hashes: the same value always gives the same text and hash.

:func:`canonical_json` is the form for anything new: keys sorted, no spaces, UTF-8 text
(non-ASCII characters as themselves), a ``Decimal`` as its exact digits (``str``), a date as ISO
8601. Any other non-JSON value (a float's ``nan``, a set, an object) raises ``TypeError``
rather than being turned into text the next reader could not parse back.

Three older spellings produce different text for the same value, and hashes of that text are
stored in the database and printed on documents, so each keeps its own function, named for its
spelling and documented with who relies on it. Their value handling is the same as
:func:`canonical_json`; only the whitespace and escaping differ:

- :func:`canonical_json_ascii`: non-ASCII escaped as ``\\uXXXX``. Contract version fingerprints
  (stored on frozen versions, printed on rate sheets) were first computed this way.
- :func:`canonical_json_indented`: two-space indentation. Bundle version content hashes (stored,
  and part of every contract fingerprint) are over this text, which is also the bundle export
  file a person reads.
- :func:`canonical_json_spaced`: Python's default ``", "``/``": "`` separators, ASCII-escaped.
  Payment run and settlement input fingerprints are stored on open runs and compared again
  when one is approved: a different spelling would make every open run look stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any


def _jsonable(value: Any) -> str:
    # datetime is a date: both are written as ISO 8601.
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"{value} has no JSON spelling")
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable: {value!r}")


def canonical_json(value: Any) -> str:
    """Sorted keys, compact separators, UTF-8 text; Decimal as its digits, dates as ISO 8601."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_jsonable
    )


def canonical_json_ascii(value: Any) -> str:
    """:func:`canonical_json` with non-ASCII characters escaped (contract fingerprints)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False, default=_jsonable
    )


def canonical_json_indented(value: Any) -> str:
    """Sorted keys, two-space indentation, UTF-8 text (bundle definitions: export and hash)."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False, default=_jsonable)


def canonical_json_spaced(value: Any) -> str:
    """Sorted keys with Python's default separators, ASCII-escaped (payment fingerprints)."""
    return json.dumps(value, sort_keys=True, allow_nan=False, default=_jsonable)


def sha256_hex(data: str | bytes) -> str:
    """The sha256 of ``data`` (text is encoded as UTF-8), as 64 lowercase hex digits."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def sha256_of_chunks(chunks: Iterable[bytes]) -> str:
    """The sha256 of a stream read chunk by chunk (an uploaded file), as 64 hex digits."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def content_hash(value: Any) -> str:
    """The sha256 hex of ``value``'s :func:`canonical_json`: equal values, equal hashes."""
    return sha256_hex(canonical_json(value))
