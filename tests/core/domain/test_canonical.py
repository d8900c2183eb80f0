"""Canonical JSON and content hashes: stable text, stable hashes, and the stored spellings kept."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.canonical import (
    canonical_json,
    canonical_json_ascii,
    canonical_json_indented,
    canonical_json_spaced,
    content_hash,
    sha256_hex,
    sha256_of_chunks,
)

SPELLINGS = (canonical_json, canonical_json_ascii, canonical_json_indented, canonical_json_spaced)

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _reversed(value):
    """The same value with every dict built in the opposite key order."""
    if isinstance(value, dict):
        return {k: _reversed(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed(v) for v in value]
    return value


@given(documents)
def test_every_spelling_reads_back_to_the_value(value):
    for dumps in SPELLINGS:
        assert json.loads(dumps(value)) == value


@given(documents)
def test_key_order_does_not_change_the_text_or_hash(value):
    for dumps in SPELLINGS:
        assert dumps(_reversed(value)) == dumps(value)
    assert content_hash(_reversed(value)) == content_hash(value)


@given(documents)
def test_canonical_json_is_a_fixed_point(value):
    text = canonical_json(value)
    assert canonical_json(json.loads(text)) == text


@given(documents, documents)
def test_the_hash_changes_with_the_content(a, b):
    assert (content_hash(a) == content_hash(b)) == (canonical_json(a) == canonical_json(b))


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=5))
def test_the_compact_spellings_differ_only_in_escaping(value):
    assert json.loads(canonical_json_ascii(value)) == json.loads(canonical_json(value))
    assert canonical_json_ascii(value).isascii()
    if all(" " <= c <= "~" for c in canonical_json(value)):  # json escapes DEL and control characters too
        assert canonical_json_ascii(value) == canonical_json(value)


def test_the_spellings_are_the_ones_stored_hashes_were_made_with():
    value = {"b": [1, {"é": "x"}], "a": None}
    # pricing documents and new hashes
    assert canonical_json(value) == json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    # contract fingerprints
    assert canonical_json_ascii(value) == json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
    )
    # bundle version content hashes and the bundle export file
    assert canonical_json_indented(value) == json.dumps(value, sort_keys=True, ensure_ascii=False, indent=2)
    # payment run and settlement fingerprints
    assert canonical_json_spaced(value) == json.dumps(value, sort_keys=True)


def test_decimals_and_dates_are_written_as_strings():
    value = {"amount": Decimal("12.50"), "on": date(2024, 2, 29)}
    assert canonical_json(value) == '{"amount":"12.50","on":"2024-02-29"}'
    assert (
        canonical_json({"at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)})
        == '{"at":"2026-01-02T03:04:05+00:00"}'
    )
    # the same text the contract fingerprint's default=str gave for a Decimal and a date
    assert canonical_json_ascii(value) == json.dumps(
        value, sort_keys=True, separators=(",", ":"), default=str
    )


@pytest.mark.parametrize("bad", [{1, 2}, object(), Decimal("NaN"), float("nan"), float("inf")])
def test_values_without_a_json_spelling_are_refused(bad):
    for dumps in SPELLINGS:
        with pytest.raises((TypeError, ValueError)):
            dumps({"x": bad})


def test_hashes_are_sha256_hex():
    assert sha256_hex("abc") == hashlib.sha256(b"abc").hexdigest()
    assert sha256_hex(b"abc") == sha256_hex("abc")
    assert sha256_hex("é") == hashlib.sha256("é".encode()).hexdigest()
    assert sha256_of_chunks([b"a", b"", b"bc"]) == sha256_hex("abc")
    assert content_hash({"a": 1}) == sha256_hex('{"a":1}')
    assert len(content_hash([])) == 64
