"""The X12 envelope machinery the 834 reader (:mod:`enrollment.ingest.x12_834`) and the 837 reader
(:mod:`claims.x12_837`) share. Pure: no Django.

- :func:`open_source`: bytes, text or a binary stream (a file) as text chunks, with the size limit
  checked and the encoding chosen (UTF-8, else Latin-1 with a warning) the same way for all three;
  a stream is read ``chunk_size`` bytes at a time, so memory does not grow with the file;
- :func:`split_segments`: the segments of a stream of text chunks, split on the segment terminator
  wherever the chunks happen to be cut (a terminator, or a segment, may straddle two chunks);
- :class:`X12Reader`: separators from the ISA, the ISA/IEA, GS/GE and ST/SE control numbers and
  counts, a file truncated before IEA, whitespace between segments, each problem located by
  :data:`X12_COORDINATES`. A reader for one transaction set subclasses it and fills in the hooks
  (:meth:`X12Reader.check_group`, :meth:`~X12Reader.start_transaction`, :meth:`~X12Reader.body`,
  :meth:`~X12Reader.close_body`, :meth:`~X12Reader.end_transaction`).
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from core.domain.problems import Problem

#: Bytes read from a stream at a time.
DEFAULT_CHUNK_SIZE = 1024 * 1024
#: The readers' own default size limit; the services pass the ``X12_MAX_BYTES`` setting.
DEFAULT_MAX_BYTES = 2 * 1024**3

# --------------------------------------------------------------------------- issue codes (envelope)
NOT_X12 = "not_x12"
INVALID_ISA = "invalid_isa"
FILE_TOO_LARGE = "file_too_large"
INVALID_SEGMENT = "invalid_segment"
UNEXPECTED_SEGMENT = "unexpected_segment"
UNSUPPORTED_TRANSACTION = "unsupported_transaction"
INVALID_DATE = "invalid_date"
INVALID_CODE = "invalid_code"
SEGMENT_COUNT_MISMATCH = "segment_count_mismatch"
CONTROL_NUMBER_MISMATCH = "control_number_mismatch"
DUPLICATE_CONTROL_NUMBER = "duplicate_control_number"
TRANSACTION_COUNT_MISMATCH = "transaction_count_mismatch"
GROUP_COUNT_MISMATCH = "group_count_mismatch"
MISSING_SE = "missing_se"
MISSING_GE = "missing_ge"
MISSING_IEA = "missing_iea"  # the file is truncated
# Warning codes.
WHITESPACE_BETWEEN_SEGMENTS = "whitespace_between_segments"
EMPTY_SEGMENT = "empty_segment"
NOT_UTF8 = "not_utf8"

#: BGN08 action codes of an 834 that make it a full file (4 = verify, RX = replace).
FULL_FILE_ACTIONS = frozenset({"4", "RX"})


@dataclass(frozen=True, slots=True)
class Separators:
    element: str
    sub_element: str
    segment: str
    repetition: str | None


#: Where a problem is in an X12 file: the keys of a :class:`~core.domain.problems.Problem`'s
#: ``where``, everything a 999 and a person need to find it. ``segment_index`` counts segments from
#: the start of the file (ISA = 1), as pyx12 and most editors do; ``position`` counts inside the
#: transaction set (ST = 1), which is what the 999's IK302 carries; ``element`` is 1-based;
#: ``value`` is the bad element's text; ``st_control``/``gs_control`` say which transaction set and
#: functional group the segment belongs to (``None`` outside one).
X12_COORDINATES = (
    "segment_index",
    "segment_id",
    "position",
    "element",
    "value",
    "loop",
    "st_control",
    "gs_control",
)


@dataclass
class TransactionSet:
    control_number: str
    version: str
    segment_index: int
    transaction_type: str = "834"  # ST01
    purpose: str = ""  # BGN01 / BHT02
    reference: str = ""  # BGN02 / BHT03
    created: dt.date | None = None  # BGN03 / BHT04
    action: str = ""  # BGN08
    segment_count: int = 0  # counted ST..SE
    declared_count: int | None = None  # SE01
    closed: bool = False

    @property
    def is_full_file(self) -> bool:
        """An 834's BGN08 4 (verify) or RX (replace): the file replaces the plan's whole list."""
        return self.action in FULL_FILE_ACTIONS


@dataclass
class FunctionalGroup:
    control_number: str
    functional_id: str
    sender: str
    receiver: str
    version: str
    segment_index: int
    transactions: list[TransactionSet] = field(default_factory=list)
    declared_count: int | None = None
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Interchange:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: str
    time: str
    control_number: str
    version: str
    usage: str  # P production, T test


def el(elements: list[str], n: int) -> str:
    """Element ``n`` of a split segment (0 = the segment id), '' when the segment is shorter."""
    return elements[n] if len(elements) > n else ""


def d8(text: str) -> dt.date | None:
    """A CCYYMMDD date, or None."""
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


# --------------------------------------------------------------------------- reading the input
class SourceTooLarge(Exception):
    """A stream whose size could not be known in advance went past the limit while it was read."""


class Source:
    """An X12 input as text chunks (:func:`open_source`).

    ``too_large`` is the refusal message when the size is known to be over the limit before reading;
    ``not_utf8`` is True when the text is read as Latin-1 (known before reading, except for a stream
    that cannot seek, where it may turn True while the chunks are read).
    """

    def __init__(self, chunks: Iterator[str], *, too_large: str = "", not_utf8: bool = False) -> None:
        self.chunks = chunks
        self.too_large = too_large
        self.not_utf8 = not_utf8


def _too_large(size: int, max_bytes: int) -> str:
    return f"the file is {size:,} bytes; the limit is {max_bytes:,}"


def open_source(
    source: bytes | bytearray | str | IO[bytes], *, max_bytes: int, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Source:
    """``source`` as text chunks.

    Bytes and text are one chunk (as they always were). A binary stream is read from its current
    position ``chunk_size`` bytes at a time. A seekable stream (a file) has its size checked first and
    is scanned once for its encoding (a fast pass, ASCII chunks are not decoded) so that the whole file
    is read as UTF-8 or as Latin-1, exactly as its bytes would be; a stream that cannot seek is checked
    while it is read (:class:`SourceTooLarge`) and switches to Latin-1 at its first byte that is not
    UTF-8 (the same text whenever what came before was ASCII).
    """
    if isinstance(source, str):
        if len(source) > max_bytes:
            return Source(iter(()), too_large=_too_large(len(source), max_bytes))
        return Source(iter((source,)))
    if isinstance(source, bytes | bytearray):
        if len(source) > max_bytes:
            return Source(iter(()), too_large=_too_large(len(source), max_bytes))
        try:
            return Source(iter((bytes(source).decode("utf-8"),)))
        except UnicodeDecodeError:
            return Source(iter((bytes(source).decode("latin-1"),)), not_utf8=True)
    stream = source
    if _seekable(stream):
        start = stream.tell()
        stream.seek(0, io.SEEK_END)
        size = stream.tell() - start
        stream.seek(start)
        if size > max_bytes:
            return Source(iter(()), too_large=_too_large(size, max_bytes))
        utf8 = _is_utf8(stream, chunk_size)
        stream.seek(start)
        return Source(_decoded(stream, chunk_size, "utf-8" if utf8 else "latin-1"), not_utf8=not utf8)
    src = Source(iter(()))
    src.chunks = _decoded_unseekable(stream, chunk_size, max_bytes, src)
    return src


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def _read_chunks(stream: IO[bytes], chunk_size: int) -> Iterator[bytes]:
    while chunk := stream.read(chunk_size):
        yield chunk


def _is_utf8(stream: IO[bytes], chunk_size: int) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = False
    try:
        for chunk in _read_chunks(stream, chunk_size):
            if not pending and chunk.isascii():
                continue
            decoder.decode(chunk)
            pending = bool(decoder.getstate()[0])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _decoded(stream: IO[bytes], chunk_size: int, encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)()
    for chunk in _read_chunks(stream, chunk_size):
        yield decoder.decode(chunk)
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def _decoded_unseekable(stream: IO[bytes], chunk_size: int, max_bytes: int, src: Source) -> Iterator[str]:
    seen = 0
    pending = b""
    for chunk in _read_chunks(stream, chunk_size):
        seen += len(chunk)
        if seen > max_bytes:
            raise SourceTooLarge(f"the file is larger than the limit of {max_bytes:,} bytes")
        if src.not_utf8:
            yield chunk.decode("latin-1")
            continue
        data = pending + chunk if pending else chunk
        try:
            text, pending = data.decode("utf-8"), b""
        except UnicodeDecodeError as exc:
            if exc.reason == "unexpected end of data" and exc.end == len(data):
                # A character cut by the chunk's end: complete it with the next chunk.
                text, pending = data[: exc.start].decode("utf-8"), data[exc.start :]
            else:
                src.not_utf8 = True
                text, pending = data.decode("latin-1"), b""
        yield text
    if pending:
        src.not_utf8 = True
        yield pending.decode("latin-1")


def segment_batches(chunks: Iterable[str], terminator: str) -> Iterator[list[str]]:
    """The pieces between segment terminators, a list per chunk, exactly as
    ``"".join(chunks).split(terminator)`` gives them, without ever joining the chunks: a piece cut by
    a chunk boundary is carried to the next chunk (the last piece comes alone at the end)."""
    rest = ""
    for chunk in chunks:
        if not chunk:
            continue
        pieces = (rest + chunk).split(terminator) if rest else chunk.split(terminator)
        rest = pieces.pop()
        yield pieces
    yield [rest]


def split_segments(chunks: Iterable[str], terminator: str) -> Iterator[str]:
    """:func:`segment_batches`, one piece at a time."""
    for pieces in segment_batches(chunks, terminator):
        yield from pieces


# --------------------------------------------------------------------------- the envelope reader
class X12Reader:
    """Reads one interchange's envelope and hands each transaction set's segments to :meth:`body`.

    Never raises on bad input: every problem goes to ``errors`` or ``warnings``.
    """

    def __init__(
        self,
        source: bytes | bytearray | str | IO[bytes],
        max_bytes: int,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self.source = source
        self.max_bytes = max_bytes
        self.chunk_size = chunk_size
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.groups: list[FunctionalGroup] = []
        self.interchange: Interchange | None = None
        self.separators: Separators | None = None
        # Position state.
        self.index = 0
        self.seg_id = ""
        self.group: FunctionalGroup | None = None
        self.ts: TransactionSet | None = None
        self.loop = ""
        self.iea_seen = False
        self.warned: set[str] = set()

    # -- hooks for the transaction set's reader
    def check_group(self, group: FunctionalGroup) -> None:
        """GS01/GS08 (the group has just been opened)."""

    def start_transaction(self, e: list[str], ts: TransactionSet) -> None:
        """ST01/ST03 and the body's state (the transaction set has just been opened)."""

    def body(self, sid: str, e: list[str]) -> None:
        """A segment inside the open transaction set, other than ST and SE."""

    def close_body(self) -> None:
        """Finish what the body has open: the transaction set ends (SE, or a missing SE)."""

    def end_transaction(self, ts: TransactionSet) -> None:
        """Checks of the whole transaction set at its SE, before SE01/SE02 are checked."""

    # -- issue helpers
    def _issue(self, code: str, message: str, *, element: int | None = None, value: str = "",
               seg_id: str | None = None, index: int | None = None, position: int | None = None,
               loop: str | None = None) -> Problem:  # fmt: skip
        ts = self.ts
        in_ts = ts if ts is not None and not ts.closed else None
        group = self.group if self.group is not None and not self.group.closed else None
        return Problem(
            code,
            message,
            where={
                "segment_index": self.index if index is None else index,
                "segment_id": self.seg_id if seg_id is None else seg_id,
                "position": (in_ts.segment_count if in_ts is not None else None)
                if position is None
                else position,
                "element": element,
                "value": value,
                "loop": self.loop if loop is None else loop,
                "st_control": in_ts.control_number if in_ts is not None else None,
                "gs_control": group.control_number if group is not None else None,
            },
        )

    def error(self, code: str, message: str, **kw: object) -> None:
        self.errors.append(self._issue(code, message, **kw))  # type: ignore[arg-type]

    def warn(self, code: str, message: str, *, once: bool = False, **kw: object) -> None:
        if once:
            if code in self.warned:
                return
            self.warned.add(code)
        self.warnings.append(self._issue(code, message, **kw))  # type: ignore[arg-type]

    def position(self) -> int:
        """The current segment's position in the open transaction set (ST = 1), 0 outside one."""
        return self.ts.segment_count if self.ts is not None else 0

    # -- top level
    def run(self) -> None:
        src = open_source(self.source, max_bytes=self.max_bytes, chunk_size=self.chunk_size)
        if src.too_large:
            self.error(FILE_TOO_LARGE, src.too_large)
            return
        warned_encoding = src.not_utf8
        if warned_encoding:
            self.warn(NOT_UTF8, "the file is not UTF-8; it was read as Latin-1")
        try:
            self._read(src.chunks)
        except SourceTooLarge as exc:
            self.reset_for_refusal()
            self.error(FILE_TOO_LARGE, str(exc))
            return
        if src.not_utf8 and not warned_encoding:  # found part-way through a stream that cannot seek
            problem = self._issue(NOT_UTF8, "the file is not UTF-8; it was read as Latin-1", index=0, seg_id="",
                                  loop="")  # fmt: skip
            self.warnings.insert(0, problem)

    def reset_for_refusal(self) -> None:
        """Forget what was read: the file is refused as a whole (a stream found too large part-way)."""
        self.errors, self.warnings, self.groups = [], [], []
        self.interchange = self.separators = None
        self.index, self.seg_id, self.loop = 0, "", ""
        self.group = self.ts = None

    def _read(self, chunks: Iterator[str]) -> None:
        # Enough text to read the ISA: 512 characters after the leading whitespace (or the whole file).
        head = ""
        for chunk in chunks:
            head = (head + chunk).lstrip("\ufeff \t\r\n")
            if len(head) >= 512:
                break
        text = head
        if not text.startswith("ISA"):
            self.error(
                NOT_X12,
                "this is not an X12 file: it does not start with an ISA segment",
                seg_id="ISA",
                index=1,
            )
            return
        seps, isa_end = self._separators(text)
        if seps is None:
            return
        self.separators = seps
        self._isa(text[: isa_end - 1].split(seps.element))
        if self.interchange is None:
            return
        rest = text[isa_end:]
        del text, head
        self._segments(segment_batches(_prepend(rest, chunks), seps.segment), seps)

    def _separators(self, text: str) -> tuple[Separators | None, int]:
        self.index = 1
        self.seg_id = "ISA"
        elem = text[3] if len(text) > 3 else ""
        if not elem or elem.isalnum() or elem.isspace():
            self.error(
                INVALID_ISA, "the ISA segment has no valid element separator in its 4th character", element=1
            )
            return None, 0
        head = text[:512]
        parts = head.split(elem, 16)
        if len(parts) < 17 or len(parts[16]) < 2:
            self.error(INVALID_ISA, "the ISA segment is incomplete: it must have 16 elements", element=16)
            return None, 0
        sub, term = parts[16][0], parts[16][1]
        isa_end = len(head) - len(parts[16]) + 2
        if term.isalnum() or term == elem or term == sub or sub.isalnum():
            self.error(
                INVALID_ISA,
                f"ISA16 must be one sub-element separator followed by the segment terminator, found {parts[16][:2]!r}",
                element=16,
                value=parts[16][:2],
            )
            return None, 0
        repetition = parts[11] if len(parts[11]) == 1 and not parts[11].isalnum() else None
        if isa_end != 106:
            self.warn(
                INVALID_ISA,
                f"the ISA segment is {isa_end} characters long instead of 106 (fixed-width elements are padded)",
            )
        return Separators(elem, sub, term, repetition), isa_end

    def _isa(self, e: list[str]) -> None:
        if len(e) < 17:
            self.error(INVALID_ISA, "the ISA segment must have 16 elements")
            return
        self.interchange = Interchange(
            sender_qualifier=e[5].strip(),
            sender_id=e[6].strip(),
            receiver_qualifier=e[7].strip(),
            receiver_id=e[8].strip(),
            date=e[9],
            time=e[10],
            control_number=e[13].strip(),
            version=e[12],
            usage=e[15],
        )
        if not e[13].strip().isdigit():
            self.error(
                INVALID_ISA, "ISA13 (interchange control number) must be numeric", element=13, value=e[13]
            )

    def _segments(self, batches: Iterable[list[str]], seps: Separators) -> None:
        elem = seps.element
        handlers: dict[str, Callable[[list[str]], None]] = {
            "GS": self._gs, "GE": self._ge, "ST": self._st, "SE": self._se, "IEA": self._iea,
            "ISA": self._second_isa,
        }  # fmt: skip
        body = self.body
        strip_chars = "\r\n"
        for pieces in batches:
            for raw in pieces:
                seg = raw.lstrip(strip_chars)
                if seg[:1] in (" ", "\t"):
                    stripped = seg.lstrip(" \t\r\n")
                    if stripped:
                        self.warn(
                            WHITESPACE_BETWEEN_SEGMENTS,
                            "spaces between segments were ignored (first before segment "
                            f"{self.index + 1}, {stripped.split(elem, 1)[0]})",
                            once=True,
                            index=self.index + 1,
                            seg_id=stripped.split(elem, 1)[0],
                        )
                    seg = stripped
                seg = seg.rstrip(strip_chars)
                if not seg:
                    continue
                self.index += 1
                e = seg.split(elem)
                sid = e[0]
                self.seg_id = sid
                if self.ts is not None:
                    self.ts.segment_count += 1
                if self.iea_seen:
                    self.error(
                        UNEXPECTED_SEGMENT, f"segment {sid} comes after the IEA that ends the interchange"
                    )
                    continue
                if not (2 <= len(sid) <= 3 and sid.isalnum() and sid == sid.upper()):
                    self.error(INVALID_SEGMENT, f"{sid[:20]!r} is not a segment identifier")
                    continue
                handler = handlers.get(sid)
                if handler is not None:
                    handler(e)
                elif self.ts is not None:
                    body(sid, e)
                else:
                    self.error(UNEXPECTED_SEGMENT, f"segment {sid} is outside a transaction set (ST...SE)")
        self._finish_file()

    # -- envelope
    def _second_isa(self, e: list[str]) -> None:
        self.error(UNEXPECTED_SEGMENT, "only one interchange (ISA...IEA) per file is supported")

    def _gs(self, e: list[str]) -> None:
        if self.ts is not None:
            self._close_ts_missing_se()
        if self.group is not None and not self.group.closed:
            self._close_group_missing_ge()
        group = FunctionalGroup(
            control_number=el(e, 6),
            functional_id=el(e, 1),
            sender=el(e, 2),
            receiver=el(e, 3),
            version=el(e, 8),
            segment_index=self.index,
        )
        self.groups.append(group)
        self.group = group
        self.loop = ""
        self.check_group(group)

    def _ge(self, e: list[str]) -> None:
        if self.ts is not None:
            self._close_ts_missing_se()
        group = self.group
        if group is None or group.closed:
            self.error(UNEXPECTED_SEGMENT, "GE without a matching GS")
            return
        count = el(e, 1)
        group.declared_count = int(count) if count.isdigit() else None
        if group.declared_count != len(group.transactions):
            self.error(
                TRANSACTION_COUNT_MISMATCH,
                f"GE01 says {count or '(empty)'} transaction sets; the group has {len(group.transactions)}",
                element=1,
                value=count,
            )
        if el(e, 2) != group.control_number:
            self.error(
                CONTROL_NUMBER_MISMATCH,
                f"GE02 {el(e, 2)!r} does not match GS06 {group.control_number!r}",
                element=2,
                value=el(e, 2),
            )
        group.closed = True

    def _st(self, e: list[str]) -> None:
        if self.ts is not None:
            self._close_ts_missing_se()
        group = self.group
        if group is None or group.closed:
            self.error(UNEXPECTED_SEGMENT, "ST outside a functional group (GS...GE)")
            # Still read the transaction so its own problems are reported.
            group = FunctionalGroup("", "", "", "", "", self.index)
            self.groups.append(group)
            self.group = group
        control = el(e, 2)
        duplicate = any(t.control_number == control for t in group.transactions)
        ts = TransactionSet(control, el(e, 3), self.index, transaction_type=el(e, 1), segment_count=1)
        group.transactions.append(ts)
        self.ts = ts
        if duplicate:
            self.error(
                DUPLICATE_CONTROL_NUMBER,
                f"ST02 {control!r} is used twice in this functional group",
                element=2,
                value=control,
            )
        self.loop = "HEADER"
        self.start_transaction(e, ts)

    def _se(self, e: list[str]) -> None:
        ts = self.ts
        if ts is None:
            self.error(UNEXPECTED_SEGMENT, "SE without a matching ST")
            return
        self.close_body()
        self.end_transaction(ts)
        count = el(e, 1)
        ts.declared_count = int(count) if count.isdigit() else None
        if ts.declared_count != ts.segment_count:
            self.error(
                SEGMENT_COUNT_MISMATCH,
                f"SE01 says {count or '(empty)'} segments; the transaction set has {ts.segment_count}",
                element=1,
                value=count,
            )
        if el(e, 2) != ts.control_number:
            self.error(
                CONTROL_NUMBER_MISMATCH,
                f"SE02 {el(e, 2)!r} does not match ST02 {ts.control_number!r}",
                element=2,
                value=el(e, 2),
            )
        ts.closed = True
        self.ts = None
        self.loop = ""

    def _iea(self, e: list[str]) -> None:
        if self.ts is not None:
            self._close_ts_missing_se()
        if self.group is not None and not self.group.closed:
            self._close_group_missing_ge()
        count = el(e, 1)
        real_groups = [g for g in self.groups if g.functional_id or g.control_number]
        if not count.isdigit() or int(count) != len(real_groups):
            self.error(
                GROUP_COUNT_MISMATCH,
                f"IEA01 says {count or '(empty)'} functional groups; the interchange has {len(real_groups)}",
                element=1,
                value=count,
            )
        assert self.interchange is not None
        if el(e, 2) != self.interchange.control_number:
            self.error(
                CONTROL_NUMBER_MISMATCH,
                f"IEA02 {el(e, 2)!r} does not match ISA13 {self.interchange.control_number!r}",
                element=2,
                value=el(e, 2),
            )
        self.iea_seen = True

    def _close_ts_missing_se(self) -> None:
        ts = self.ts
        assert ts is not None
        self.close_body()
        ts.segment_count -= 0 if self.seg_id == "END" else 1  # the segment being read is not part of it
        self.error(
            MISSING_SE,
            f"transaction set {ts.control_number!r} (ST at segment {ts.segment_index}) has no SE",
            seg_id="SE",
        )
        ts.closed = True
        self.ts = None
        self.loop = ""

    def _close_group_missing_ge(self) -> None:
        group = self.group
        assert group is not None
        self.error(MISSING_GE, f"functional group {group.control_number!r} has no GE", seg_id="GE")
        group.closed = True

    def _finish_file(self) -> None:
        self.seg_id = "END"
        if self.ts is not None:
            self._close_ts_missing_se()
        if self.group is not None and not self.group.closed:
            self._close_group_missing_ge()
        if not self.iea_seen:
            self.error(MISSING_IEA, "the file ends without an IEA segment: it is truncated", seg_id="IEA")


def _prepend(first: str, chunks: Iterator[str]) -> Iterator[str]:
    yield first
    yield from chunks
