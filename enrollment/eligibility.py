"""Applying an accepted X12 834 to the plan's members and eligibility spans.

- A full file (an audit: BGN08 4/RX, or every member sent with INS03 ``030``) **replaces** the plan's
  eligibility: every span goes, the file's spans come in.
- Otherwise each INS loop updates the list by its maintenance type: ``021`` addition and ``025``
  reinstatement add (or reopen) a span; ``001`` change updates the member's name and birth date and,
  when it carries dates, the span that starts on the same day; ``024`` cancellation or termination
  ends the member's spans on the day after the given end date (no date: the spans are cancelled).

834 end dates are inclusive; spans are stored half-open (``end`` = the day after the last eligible
day). Members' names and birth dates always follow the latest file.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from accounts.models import LineOfBusiness, Organization
from enrollment.ingest.x12_834 import AUDIT, Member834, Parse834Result
from enrollment.models import EligibilityFile, EligibilitySpan, InsuranceLineMapping, Member

ADDITION, CHANGE, TERMINATION, REINSTATEMENT = "021", "001", "024", "025"
ONE_DAY = dt.timedelta(days=1)
QUERY_CHUNK = 5000


@dataclass
class Applied:
    members: int = 0
    added: int = 0
    changed: int = 0
    terminated: int = 0
    reinstated: int = 0
    replaced: int = 0
    spans: int = 0
    skipped: list[str] = field(default_factory=list)
    #: The members with a date of death (INS12), for the exits; not part of :meth:`as_dict`.
    deaths: list[Member834] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {
            "members": self.members,
            "added": self.added,
            "changed": self.changed,
            "terminated": self.terminated,
            "reinstated": self.reinstated,
            "replaced_spans": self.replaced,
            "spans": self.spans,
            "skipped": self.skipped[:50],
        }


def lob_resolver(payer: Organization):
    """HD03 -> the platform's LOB: the plan's own mapping, an HD03 that already is a LOB code, or the
    plan's only line of business; '' when it cannot be told."""
    mapping = dict(InsuranceLineMapping.objects.filter(payer=payer).values_list("code", "lob"))
    known = set(LineOfBusiness.values)
    only = payer.lines_of_business[0] if len(payer.lines_of_business or []) == 1 else ""

    def resolve(code: str) -> str:
        code = (code or "").strip()
        if code in mapping:
            return mapping[code]
        if code.lower() in known:
            return code.lower()
        return only

    return resolve


def _period(m: Member834) -> tuple[dt.date | None, dt.date | None]:
    end = m.eligibility_end
    return m.eligibility_start, (end + ONE_DAY if end is not None else None)


def _existing_spans(payer: Organization, ids: list[str]) -> dict[str, list[EligibilitySpan]]:
    spans: dict[str, list[EligibilitySpan]] = defaultdict(list)
    for k in range(0, len(ids), QUERY_CHUNK):
        for span in EligibilitySpan.objects.filter(payer=payer, member_id__in=ids[k : k + QUERY_CHUNK]):
            spans[span.member_id].append(span)
    return spans


# What an applier remembers of a member id of the file.
_SUBSCRIBER = 1  # its details were written from a subscriber's INS loop
_CREATED = 2  # the file added the member
_CHANGED = 4  # the file changed the member's details (counted)


class EligibilityApplier:
    """Applies an accepted file's members batch by batch, in file order (call inside the file's
    transaction; :meth:`add` each batch as the reader hands it on, then :meth:`finish`).

    Memory is one batch plus a few flags per member id in the file (:data:`_SUBSCRIBER`, ...: a
    subscriber's details win over a dependent sent with the same id whichever batch each comes in, and a
    member is counted once as new or changed). Each batch's spans are written before the next batch is
    read, and the next batch reads the spans it touches from the database, so a member whose loops fall
    in two batches ends up as if the file had been applied at once. A file applied as one batch is
    exactly what :func:`apply_834` has always done. The one difference a split can make: a member whose
    details change in one batch and change back in a later one is counted (and marked with this file)
    as changed.
    """

    def __init__(self, file: EligibilityFile, *, full_file: bool) -> None:
        self.file = file
        self.payer = file.payer
        self.full_file = full_file
        self.lob_of = lob_resolver(self.payer)
        self.applied = Applied()
        self.seen: dict[str, int] = {}  # member id -> _SUBSCRIBER | _CREATED | _CHANGED
        #: The members with a date of death (INS12), for the exits (enrollment.exits.reports_from_834).
        self.deaths: list[Member834] = []
        if full_file:
            self.applied.replaced, _ = EligibilitySpan.objects.filter(payer=self.payer).delete()

    def add(self, batch: list[Member834]) -> None:
        members = [m for m in batch if m.member_id]
        self._update_members(members)
        self._apply_spans(members)
        self.deaths += [m for m in members if m.death_date is not None]

    def finish(self) -> Applied:
        self.applied.members = len(self.seen)
        self.applied.spans = EligibilitySpan.objects.filter(payer=self.payer).count()
        return self.applied

    def _update_members(self, members: list[Member834]) -> None:
        file, payer = self.file, self.payer
        seen = self.seen
        latest: dict[str, Member834] = {}
        for m in members:  # a subscriber's details win over a dependent sent with the same id
            member_id = m.member_id
            assert member_id is not None
            if member_id in latest:
                if m.subscriber or not latest[member_id].subscriber:
                    latest[member_id] = m
            elif m.subscriber or not seen.get(member_id, 0) & _SUBSCRIBER:
                latest[member_id] = m
        ids = list(latest)
        existing: dict[str, Member] = {}
        for k in range(0, len(ids), QUERY_CHUNK):
            existing.update(
                {
                    p.member_id: p
                    for p in Member.objects.filter(payer=payer, member_id__in=ids[k : k + QUERY_CHUNK])
                }
            )
        new, changed = [], []
        for member_id, m in latest.items():
            flags = seen.get(member_id, 0) | (_SUBSCRIBER if m.subscriber else 0)
            values = {
                "last_name": m.last_name[:100],
                "first_name": m.first_name[:100],
                "birth_date": m.birth_date,
                "sex": m.sex or "",
                "market": m.county[:32],
            }
            person = existing.get(member_id)
            if person is None:
                new.append(Member(payer=payer, member_id=member_id, source_file=file, **values))
                flags |= _CREATED
            elif any(getattr(person, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(person, k, v)
                person.source_file = file
                changed.append(person)
                if not flags & (_CREATED | _CHANGED):  # new, or already counted, in an earlier batch
                    self.applied.changed += 1
                    flags |= _CHANGED
            seen[member_id] = flags
        Member.objects.bulk_create(new, batch_size=QUERY_CHUNK)
        Member.objects.bulk_update(
            changed,
            ["last_name", "first_name", "birth_date", "sex", "market", "source_file"],
            batch_size=QUERY_CHUNK,
        )

    def _apply_spans(self, members: list[Member834]) -> None:
        file, payer, applied, lob_of = self.file, self.payer, self.applied, self.lob_of
        # The spans of this batch's members as they stand: for a full file, only those an earlier batch
        # of this file wrote (the plan's others were deleted at the start).
        spans = _existing_spans(payer, sorted({m.member_id for m in members if m.member_id}))
        deleted: list[int] = []
        dirty: dict[int, EligibilitySpan] = {}
        fresh: list[EligibilitySpan] = []

        def add(m: Member834, start: dt.date, end: dt.date | None) -> None:
            assert m.member_id is not None
            lob = lob_of(m.lob or "")
            same = next((s for s in spans[m.member_id] if s.start == start), None)
            if same is not None:
                same.end, same.lob, same.insurance_line, same.source_file = end, lob, (m.lob or "")[:8], file
                if same.pk:
                    dirty[same.pk] = same
                return
            span = EligibilitySpan(
                payer=payer,
                member_id=m.member_id,
                start=start,
                end=end,
                lob=lob,
                insurance_line=(m.lob or "")[:8],
                source_file=file,
            )
            spans[m.member_id].append(span)
            fresh.append(span)

        for m in members:
            assert m.member_id is not None
            start, end = _period(m)
            kind = AUDIT if self.full_file else m.maintenance_type
            if end is not None and start is not None and end <= start:
                applied.skipped.append(f"{m.member_id}: eligibility ends before it starts")
                continue
            if kind in (ADDITION, AUDIT, REINSTATEMENT):
                if start is None:
                    applied.skipped.append(f"{m.member_id}: no eligibility start date (DTP*356 or DTP*348)")
                    continue
                add(m, start, end)
                if kind == REINSTATEMENT:
                    applied.reinstated += 1
                else:
                    applied.added += 1
            elif kind == CHANGE:
                if start is not None:
                    add(m, start, end)
            elif kind == TERMINATION:
                stop = end if end is not None else start
                for span in list(spans[m.member_id]):
                    if stop is None or span.start >= stop:
                        spans[m.member_id].remove(span)
                        if span.pk:
                            deleted.append(span.pk)
                            dirty.pop(span.pk, None)
                        else:
                            fresh.remove(span)
                    elif span.end is None or span.end > stop:
                        span.end = stop
                        span.source_file = file
                        if span.pk:
                            dirty[span.pk] = span
                applied.terminated += 1
        if deleted:
            EligibilitySpan.objects.filter(pk__in=deleted).delete()
        EligibilitySpan.objects.bulk_update(
            list(dirty.values()), ["end", "lob", "insurance_line", "source_file"], batch_size=QUERY_CHUNK
        )
        EligibilitySpan.objects.bulk_create(fresh, batch_size=QUERY_CHUNK)


def apply_834(
    file: EligibilityFile,
    result: Parse834Result,
    *,
    members: list[Member834] | None = None,
    read_members: Callable[[Callable[[list[Member834]], None]], object] | None = None,
) -> Applied:
    """Apply an accepted file (call inside the file's transaction).

    Its members are ``result.members``, or ``members`` (kept while the file was read), applied as one
    batch; or, for a file too big to keep its members, ``read_members`` reads the file again and hands
    each batch to the function it is given. ``Applied.deaths`` lists the members with a date of death.
    """
    applier = EligibilityApplier(file, full_file=result.is_full_file)
    if read_members is not None:
        read_members(applier.add)
    else:
        applier.add(result.members if members is None else members)
    applied = applier.finish()
    applied.deaths = applier.deaths
    return applied
