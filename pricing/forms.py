"""The web forms of pricing: the assumption set editor and the new-run form.

The editor is generated from the assumption set itself (its roles, the plan's markets), so it is
plain request parsing into the same `assumptions` document the API takes; the service validates
it and its errors (JSON paths) are mapped back onto the inputs they concern.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django import forms

from core.domain.codes import LINES_OF_BUSINESS, LOB_LABELS
from pricing.defaults import SCALARS
from pricing.engine.scenarios import WhatIf

DISENROLLMENT_CAUSES = ("death", "hospice", "other")


def _value(post: Mapping[str, str], name: str) -> str:
    return (post.get(name) or "").strip()


def editor_rows(
    assumptions: dict[str, Any],
    sources: dict[str, str],
    *,
    roles: list[tuple[str, str]],
    markets: list[dict[str, Any]],
    post: Mapping[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Rows for the editor template: each input's name, current value, source and errors."""
    errors = errors or {}
    ranges = assumptions.get("ranges") or {}

    def val(name: str, current: Any) -> str:
        if post is not None:
            return _value(post, name)
        return "" if current is None else str(current)

    scalars = []
    for s in SCALARS:
        low, high = ranges.get(s.key, [None, None])
        scalars.append(
            {
                "key": s.key,
                "label": s.label,
                "unit": s.unit,
                "help": s.help,
                "ranged": s.low is not None,
                "value": val(s.key, assumptions.get(s.key)),
                "low": val(f"{s.key}__low", low),
                "high": val(f"{s.key}__high", high),
                "source": val(f"{s.key}__source", sources.get(s.key, "")),
                "errors": errors.get(s.key, [])
                + errors.get(f"{s.key}__low", [])
                + errors.get(f"{s.key}__high", []),
            }
        )
    dates = [
        {
            "key": key,
            "label": label,
            "value": val(key, assumptions.get(key)),
            "source": val(f"{key}__source", sources.get(key, "")),
            "errors": errors.get(key, []),
        }
        for key, label in (
            ("base_period_midpoint", "Base period midpoint"),
            ("rating_period_midpoint", "Rating period midpoint"),
        )
    ]
    salaries = assumptions.get("salaries") or {}
    salary_rows = []
    for code, name in roles:
        entry = salaries.get(code) or {}
        overrides = entry.get("markets") or {}
        salary_rows.append(
            {
                "code": code,
                "name": name,
                "default": val(f"salary__{code}", entry.get("default")),
                "markets": [
                    {
                        "code": m["code"],
                        "name": f"salary__{code}__{m['code']}",
                        "value": val(f"salary__{code}__{m['code']}", overrides.get(m["code"])),
                        "errors": errors.get(f"salary__{code}__{m['code']}", []),
                    }
                    for m in markets
                ],
                "source": val(f"salary__{code}__source", sources.get(f"salaries.{code}", "")),
                "errors": errors.get(f"salary__{code}", []),
            }
        )
    own_markets = {m.get("code"): m for m in assumptions.get("markets") or []}
    market_rows = []
    for m in markets:
        entry = own_markets.get(m["code"]) or m
        market_rows.append(
            {
                "code": m["code"],
                "name": m["name"],
                "travel": val(f"market__{m['code']}__travel", entry.get("travel_minutes_per_visit")),
                "miles": val(f"market__{m['code']}__miles", entry.get("miles_per_visit")),
                "source": val(f"market__{m['code']}__source", sources.get(f"markets.{m['code']}", "")),
                "errors": errors.get(f"market__{m['code']}", []),
            }
        )
    disenrollment = assumptions.get("disenrollment") or {}
    factors = assumptions.get("lob_factors") or {}
    return {
        "scalars": scalars,
        "dates": dates,
        "salaries": salary_rows,
        "markets": market_rows,
        "market_codes": [m["code"] for m in markets],
        "disenrollment": [
            {
                "cause": c,
                "value": val(f"disenrollment__{c}", disenrollment.get(c)),
                "errors": errors.get(f"disenrollment__{c}", []),
            }
            for c in DISENROLLMENT_CAUSES
        ],
        "disenrollment_source": val("disenrollment__source", sources.get("disenrollment", "")),
        "disenrollment_errors": errors.get("disenrollment", []),
        "lob_factors": [
            {
                "lob": lob,
                "value": val(f"lob__{lob}", factors.get(lob, "1")),
                "errors": errors.get(f"lob__{lob}", []),
            }
            for lob in LINES_OF_BUSINESS
        ],
        "lob_source": val("lob__source", sources.get("lob_factors", "")),
    }


def assumptions_from_post(
    post: Mapping[str, str],
    *,
    base: dict[str, Any],
    sources: dict[str, str],
    roles: list[tuple[str, str]],
    markets: list[dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The `assumptions` document and the sources the user changed, from the editor's POST."""
    a = copy.deepcopy(base)
    ranges: dict[str, list[str]] = {}
    changed_sources: dict[str, str] = {}

    def source(field: str, key: str) -> None:
        text = _value(post, field)
        if text and text != sources.get(key, ""):
            changed_sources[key] = text

    for s in SCALARS:
        value = _value(post, s.key)
        if value:
            a[s.key] = value
        else:
            a.pop(s.key, None)
        if s.low is not None:
            low, high = _value(post, f"{s.key}__low"), _value(post, f"{s.key}__high")
            if low or high:
                ranges[s.key] = [low, high]
        source(f"{s.key}__source", s.key)
    a["ranges"] = ranges
    for key in ("base_period_midpoint", "rating_period_midpoint"):
        a[key] = _value(post, key) or None
        source(f"{key}__source", key)
    salaries: dict[str, Any] = {}
    for code, _ in roles:
        entry: dict[str, Any] = {}
        default = _value(post, f"salary__{code}")
        if default:
            entry["default"] = default
        overrides = {m["code"]: _value(post, f"salary__{code}__{m['code']}") for m in markets}
        overrides = {k: v for k, v in overrides.items() if v}
        if overrides:
            entry["markets"] = overrides
        if entry:
            salaries[code] = entry
        source(f"salary__{code}__source", f"salaries.{code}")
    a["salaries"] = salaries
    own_markets = []
    for m in markets:
        entry = {
            "code": m["code"],
            "name": m["name"],
            "travel_minutes_per_visit": _value(post, f"market__{m['code']}__travel") or None,
            "miles_per_visit": _value(post, f"market__{m['code']}__miles") or None,
        }
        own_markets.append(entry)
        source(f"market__{m['code']}__source", f"markets.{m['code']}")
    a["markets"] = own_markets
    disenrollment = {c: _value(post, f"disenrollment__{c}") for c in DISENROLLMENT_CAUSES}
    a["disenrollment"] = {c: v for c, v in disenrollment.items() if v}
    if not a["disenrollment"]:
        a.pop("disenrollment")
    source("disenrollment__source", "disenrollment")
    factors = {lob: _value(post, f"lob__{lob}") for lob in LINES_OF_BUSINESS}
    a["lob_factors"] = {lob: v for lob, v in factors.items() if v}
    source("lob__source", "lob_factors")
    return a, changed_sources


_PATHS = [
    (re.compile(r"^\$\.assumptions\.ranges\.(\w+)\[0\]$"), "{0}__low"),
    (re.compile(r"^\$\.assumptions\.ranges\.(\w+)\[1\]$"), "{0}__high"),
    (re.compile(r"^\$\.assumptions\.ranges\.(\w+)$"), "{0}__low"),
    (re.compile(r"^\$\.assumptions\.salaries\.([\w-]+)\.markets\.([\w-]+)$"), "salary__{0}__{1}"),
    (re.compile(r"^\$\.assumptions\.salaries\.([\w-]+)(\.default)?$"), "salary__{0}"),
    (re.compile(r"^\$\.assumptions\.disenrollment\.(\w+)$"), "disenrollment__{0}"),
    (re.compile(r"^\$\.assumptions\.disenrollment$"), "disenrollment"),
    (re.compile(r"^\$\.assumptions\.lob_factors\.(\w+)$"), "lob__{0}"),
    (re.compile(r"^\$\.assumptions\.(\w+)$"), "{0}"),
]
_MARKET_PATH = re.compile(r"^\$\.assumptions\.markets\[(\d+)\]")


def errors_by_field(
    errors: list[dict[str, str]], market_codes: list[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """Map service errors (JSON paths) onto the editor's inputs; the rest are shown above the form."""
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for error in errors:
        path, message = error["path"], error["message"]
        field = None
        match = _MARKET_PATH.match(path)
        if match and int(match[1]) < len(market_codes):
            field = f"market__{market_codes[int(match[1])]}"
        else:
            for pattern, template in _PATHS:
                match = pattern.match(path)
                if match:
                    field = template.format(*match.groups())
                    break
        if field is None:
            general.append(f"{path}: {message}")
        else:
            by_field.setdefault(field, []).append(message)
    return by_field, general


class AssumptionSetCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class AssumptionImportForm(forms.Form):
    file = forms.FileField(help_text="A carebundle.pricing/1 JSON file with an `assumptions` part")
    name = forms.CharField(max_length=200, required=False)


class ExperienceUploadForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="e.g. Bayview 2025 experience")
    program_name = forms.CharField(max_length=200, required=False)
    file = forms.FileField(label="Experience CSV", help_text="month, tier, member_months, cost")
    spans_file = forms.FileField(
        label="Enrollment spans CSV (optional)",
        required=False,
        help_text="enrollment_start, enrollment_end, disenrollment_reason",
    )


class FeeScheduleUploadForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        help_text="e.g. California Medi-Cal physician fee schedule; an existing schedule's name adds a version to it",
    )
    file = forms.FileField(
        label="Fee schedule CSV", help_text="The columns of the template above, one row per code and period"
    )
    notes = forms.CharField(
        label="What changed (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RunForm(forms.Form):
    bundle_version = forms.ChoiceField(label="Bundle version")
    assumption_version = forms.ChoiceField(label="Assumption set version")
    experience = forms.ChoiceField(label="Experience", required=False)
    markets = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every market of the bundle version",
    )
    lobs = forms.MultipleChoiceField(
        label="Lines of business",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every line of business of the bundle version",
    )
    enrollees_per_year = forms.IntegerField(
        label="Expected enrollees a year, per market", initial=100, min_value=1, max_value=100_000
    )
    simulation_years = forms.IntegerField(
        label="Simulated contract years", initial=20_000, min_value=1_000, max_value=100_000
    )
    fixed_annual_cost = forms.DecimalField(
        label="The program's fixed annual cost ($)",
        required=False,
        initial=0,
        min_value=0,
        max_value=100_000_000,
        decimal_places=2,
        help_text="Costs that do not grow with enrollment (office, on-call coverage, a program lead): "
        "the risk of the whole program carries them once a year",
    )
    first_year = forms.BooleanField(
        label="A new program's first year",
        required=False,
        help_text="Enrollment ramps up over the year and no one carries in from a year before",
    )
    fee_schedule = forms.ChoiceField(
        label="Fee schedule for the fee-for-service comparison",
        required=False,
        help_text="The plan's own schedule (its rates on the rating period's midpoint), or Medicare's",
    )
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        help_text="Leave empty: derived from the inputs, so the same inputs give the same numbers",
    )

    def __init__(
        self, *args, bundle_versions, assumption_versions, experiences, markets, fee_schedules=(), **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.fields["fee_schedule"].choices = [("", "Medicare physician fee schedule 2025 (shipped)")] + [
            (str(v.pk), f"{v.schedule.name} v{v.number}") for v in fee_schedules
        ]
        self.fields["bundle_version"].choices = [
            (str(v.pk), f"{v.bundle.name} v{v.number}") for v in bundle_versions
        ]
        self.fields["assumption_version"].choices = [
            (str(v.pk), f"{v.assumption_set.name} v{v.number}") for v in assumption_versions
        ]
        self.fields["experience"].choices = [("", "None (manual rate only)")] + [
            (str(e.pk), f"{e.name} ({e.summary.get('first_month')} to {e.summary.get('last_month')})")
            for e in experiences
        ]
        self.fields["markets"].choices = [(m.code, f"{m.code} · {m.name}") for m in markets]
        self.fields["lobs"].choices = [(lob, LOB_LABELS[lob]) for lob in LINES_OF_BUSINESS]
        for lob in LINES_OF_BUSINESS:
            self.fields[f"lob_share_{lob}"] = forms.DecimalField(
                label=f"Share of enrollees: {LOB_LABELS[lob]} (%)",
                required=False,
                min_value=0,
                max_value=100,
                decimal_places=2,
            )

    def lob_share_fields(self):
        return [self[f"lob_share_{lob}"] for lob in LINES_OF_BUSINESS]

    def lob_mix(self) -> dict[str, str]:
        """The shares given (cleaned data), as the run's lob_mix option; {} when none is: alike."""
        return {
            lob: format(self.cleaned_data[f"lob_share_{lob}"], "f")
            for lob in LINES_OF_BUSINESS
            if self.cleaned_data.get(f"lob_share_{lob}") is not None
        }


class WhatIfForm(forms.Form):
    """The what-if levers (the page's sliders): the bounds are what a program could plausibly see."""

    conversion_rate = forms.DecimalField(
        label="Conversion rate", min_value=Decimal("0.05"), max_value=Decimal(1), decimal_places=2
    )
    productivity = forms.DecimalField(
        label="Productivity", min_value=Decimal("0.40"), max_value=Decimal(1), decimal_places=2
    )
    wage_change = forms.DecimalField(
        label="Wages (% change)", min_value=Decimal(-30), max_value=Decimal(50), decimal_places=1
    )
    enrollment_change = forms.DecimalField(
        label="Enrollment (% change)", min_value=Decimal(-90), max_value=Decimal(300), decimal_places=0
    )

    @classmethod
    def initial_from(cls, levers: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **levers,
            "wage_change": levers["wage_change"] * 100,
            "enrollment_change": levers["enrollment_change"] * 100,
        }

    def levers(self) -> WhatIf:
        data = self.cleaned_data
        return WhatIf(
            conversion_rate=data["conversion_rate"],
            productivity=data["productivity"],
            wage_change=data["wage_change"] / 100,
            enrollment_change=data["enrollment_change"] / 100,
        )
