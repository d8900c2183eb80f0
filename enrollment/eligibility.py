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


def _update_members(file: EligibilityFile, members: list[Member834], applied: Applied) -> None:
    payer = file.payer
    latest: dict[str, Member834] = {}
    for m in members:  # a subscriber's details win over a dependent sent with the same id
        if m.member_id and (m.member_id not in latest or m.subscriber or not latest[m.member_id].subscriber):
            latest[m.member_id] = m
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
        elif any(getattr(person, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(person, k, v)
            person.source_file = file
            changed.append(person)
    Member.objects.bulk_create(new, batch_size=QUERY_CHUNK)
    Member.objects.bulk_update(
        changed,
        ["last_name", "first_name", "birth_date", "sex", "market", "source_file"],
        batch_size=QUERY_CHUNK,
    )
    applied.members = len(latest)
    applied.changed += len(changed)


def apply_834(file: EligibilityFile, result: Parse834Result) -> Applied:
    """Apply an accepted file (call inside the file's transaction)."""
    payer = file.payer
    lob_of = lob_resolver(payer)
    applied = Applied()
    members = [m for m in result.members if m.member_id]
    _update_members(file, members, applied)

    if result.is_full_file:
        applied.replaced, _ = EligibilitySpan.objects.filter(payer=payer).delete()
        spans: dict[str, list[EligibilitySpan]] = defaultdict(list)
    else:
        spans = _existing_spans(payer, sorted({m.member_id for m in members}))
    deleted: list[int] = []
    dirty: dict[int, EligibilitySpan] = {}
    fresh: list[EligibilitySpan] = []

    def add(m: Member834, start: dt.date, end: dt.date | None) -> None:
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
        start, end = _period(m)
        kind = AUDIT if result.is_full_file else m.maintenance_type
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
    applied.spans = EligibilitySpan.objects.filter(payer=payer).count()
    return applied
