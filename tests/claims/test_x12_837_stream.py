"""The 837 read as a stream through the shared X12 machinery (enrollment.ingest.x12): the same result
as its bytes, however the stream is cut."""

from __future__ import annotations

import io

import pytest

from claims.x12_837 import read_837
from tests.claims.test_x12_837 import professional, x12

FILES = {
    "clean": x12(professional()),
    "crlf": x12(professional()).replace(b"~\n", b"~\r\n"),
    "segment count": x12(professional(), se_count=3),
    "truncated": x12(professional())[:400],
    "a line without adjudication": x12(
        professional(line2=["SV1*HC:87880*100*UN*1***1", "DTP*472*D8*20260302"])
    ),
}


def snapshot(result) -> tuple:
    return (result.records, result.errors, result.warnings, result.rows, result.groups, result.segment_count)


@pytest.mark.parametrize("name", sorted(FILES))
@pytest.mark.parametrize("chunk_size", [1, 2, 7, 64, 4096])
def test_an_837_stream_reads_as_its_bytes(name, chunk_size):
    data = FILES[name]
    assert snapshot(read_837(io.BytesIO(data), chunk_size=chunk_size)) == snapshot(read_837(data))
