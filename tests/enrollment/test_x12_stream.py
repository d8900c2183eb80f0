"""The 834 read as a stream: the same result as its bytes, however the stream is cut, in memory that
does not grow with the file; the size limit (the X12_MAX_BYTES setting) refuses a bigger file."""

from __future__ import annotations

import io
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollment.ingest import x12
from enrollment.ingest import x12_834 as X
from enrollment.ingest.x12_834 import Member834, Parse834Result, parse_834
from enrollment.ingest.x12_generate import make_834, write_834

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "x12"  # see the README there
SAMPLE_FILES = sorted(p for p in SAMPLES.glob("*/*") if p.suffix in (".834", ".txt"))
BASE = (SAMPLES / "synthetic/roster_add_3members.834").read_bytes()


def _variants() -> dict[str, bytes]:
    """The samples, and the base file with each defect the reader tolerates or reports."""
    files = {str(p.relative_to(SAMPLES)): p.read_bytes() for p in SAMPLE_FILES}
    files |= {
        "crlf": BASE.replace(b"~\n", b"~\r\n"),
        "no line breaks": BASE.replace(b"~\n", b"~"),
        "bom and leading blank lines": b"\xef\xbb\xbf\r\n\n  " + BASE,
        "spaces between segments": BASE.replace(b"~\nNM1", b"~\n  \tNM1"),
        "latin-1": BASE.replace(b"GARCIA", "GARCÍA".encode("latin-1")),
        "utf-8": BASE.replace(b"GARCIA", "GARCÍA€".encode()),
        "cut in a utf-8 character": BASE.replace(b"GARCIA", "GARCÍA".encode())[: BASE.index(b"GARCIA") + 5],
        "truncated": BASE[: len(BASE) // 2],
        "no ISA": b"member_id,last_name\nM1,DOE\n",
        "short ISA": BASE[:60],
        "empty": b"",
        "only whitespace": b"\n\n   \n",
        "pipe separators": BASE.replace(b"*", b"|").replace(b"~\n", b"\n").replace(b"|T|:\n", b"|T|>\n"),
        "segment after IEA": BASE + b"INS*Y*18*021*XN*A~\n",
        "bad INS03": BASE.replace(b"INS*Y*18*021", b"INS*Y*18*099", 1),
    }
    return files


VARIANTS = _variants()


class ChunkedStream(io.RawIOBase):
    """A binary stream that answers each read with at most the next of ``sizes`` bytes (cycling)."""

    def __init__(self, data: bytes, sizes: list[int], *, seekable: bool) -> None:
        self.inner = io.BytesIO(data)
        self.sizes = sizes
        self.k = 0
        self._seekable = seekable

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._seekable

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self._seekable:
            raise io.UnsupportedOperation("seek")
        return self.inner.seek(offset, whence)

    def tell(self) -> int:
        return self.inner.tell()

    def read(self, size: int = -1) -> bytes:
        n = self.sizes[self.k % len(self.sizes)]
        self.k += 1
        return self.inner.read(n if size < 0 else min(n, size))


def snapshot(result: Parse834Result, members: list[Member834] | None = None) -> tuple:
    return (
        result.interchange,
        result.separators,
        result.groups,
        result.members if members is None else members,
        result.errors,
        result.warnings,
        result.segment_count,
        result.member_count,
        result.is_full_file,
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(VARIANTS)),
    sizes=st.lists(st.integers(1, 64), min_size=1, max_size=8),
    chunk_size=st.integers(1, 64),
    seekable=st.booleans(),
    batch_size=st.integers(1, 4),
)
def test_a_stream_cut_anywhere_reads_as_its_bytes(name, sizes, chunk_size, seekable, batch_size):
    data = VARIANTS[name]
    expected = snapshot(parse_834(data))
    stream = ChunkedStream(data, sizes, seekable=seekable)
    assert snapshot(parse_834(stream, chunk_size=chunk_size)) == expected
    batches: list[list[Member834]] = []
    stream = ChunkedStream(data, sizes, seekable=seekable)
    result = parse_834(stream, chunk_size=chunk_size, on_members=batches.append, batch_size=batch_size)
    assert result.members == []
    assert all(0 < len(b) <= batch_size for b in batches)
    assert snapshot(result, [m for b in batches for m in b]) == expected


def test_the_segment_splitter_carries_a_segment_across_chunks():
    chunks = ["ISA*a~GS", "*b~", "~", "ST*c", "~SE*d~"]
    assert list(x12.split_segments(chunks, "~")) == "".join(chunks).split("~")
    assert list(x12.split_segments([], "~")) == [""]


def _peak_of_streamed_parse(members: int) -> tuple[int, int]:
    """The traced peak (bytes) of reading a generated file of ``members`` members as a stream."""
    with tempfile.TemporaryFile() as fh:
        size = write_834(fh, members)
        fh.seek(0)
        seen = 0

        def count(batch: list[Member834]) -> None:
            nonlocal seen
            seen += len(batch)

        tracemalloc.start()
        try:
            result = parse_834(fh, on_members=count, chunk_size=32 * 1024, batch_size=100)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.accepted and result.member_count == seen == members and result.is_full_file
    return peak, size


def test_a_streamed_parse_takes_memory_that_does_not_grow_with_the_file():
    small_peak, _ = _peak_of_streamed_parse(5_000)
    big_peak, big_size = _peak_of_streamed_parse(20_000)
    bound = 1536 * 1024  # 1.5 MB: 32 KB read at a time, 100 members handed on at a time
    assert big_size > 3 * bound  # the file (~5 MB) is several times the memory the parse may take
    assert small_peak < bound and big_peak < bound, (small_peak, big_peak)
    assert big_peak < 1.5 * small_peak, (small_peak, big_peak)


def test_a_generated_file_reads_the_same_as_bytes_and_as_a_stream():
    data = make_834(300)
    result = parse_834(data)
    assert result.accepted and result.member_count == 300 and result.is_full_file
    assert [m.member_id for m in result.members][-1] == "M000000299"
    assert snapshot(parse_834(io.BytesIO(data), chunk_size=7)) == snapshot(result)


@pytest.mark.parametrize("seekable", [True, False])
def test_a_file_over_the_limit_is_refused_as_a_whole(seekable):
    data = make_834(50)
    limit = len(data) - 1
    whole = parse_834(data, max_bytes=limit)
    assert [e.code for e in whole.errors] == [X.FILE_TOO_LARGE] and whole.members == []
    seen: list[Member834] = []
    streamed = parse_834(
        ChunkedStream(data, [4096], seekable=seekable),
        max_bytes=limit,
        on_members=seen.extend,
        batch_size=1,
    )
    assert [e.code for e in streamed.errors] == [X.FILE_TOO_LARGE]
    assert streamed.warnings == [] and streamed.groups == [] and streamed.interchange is None
    assert not streamed.accepted
    if seekable:  # its size is known before anything is read: the same refusal as its bytes
        assert streamed.errors == whole.errors and seen == []
    else:
        assert streamed.errors[0].message == f"the file is larger than the limit of {limit:,} bytes"
    assert parse_834(ChunkedStream(data, [4096], seekable=seekable), max_bytes=len(data)).accepted


def test_the_limit_is_a_setting_of_two_gigabytes_by_default():
    from django.conf import settings as django_settings

    assert django_settings.X12_MAX_BYTES == 2 * 1024**3 == x12.DEFAULT_MAX_BYTES
