"""Upload forms of the enrollment pages (the services validate everything that matters)."""

from __future__ import annotations

import json
from datetime import date

from django import forms
from django.utils import timezone

from core.domain.months import month_key
from enrollment.selectors import roster_months_allowed


class RosterUploadForm(forms.Form):
    contract = forms.ChoiceField(label="Contract")
    month = forms.RegexField(
        regex=r"^\d{4}-\d{2}$",
        label="Month",
        widget=forms.DateInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
        error_messages={"invalid": "Give the month as YYYY-MM."},
    )
    file = forms.FileField(label="Roster file", help_text="CSV, XLSX or JSON with the template's columns")
    assessments = forms.FileField(
        label="Initial assessments (optional)",
        required=False,
        help_text="The month's initial assessments, CSV, XLSX or JSON",
    )

    def __init__(self, *args, contracts=(), today: date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contract"].choices = [(str(c.public_id), contract_label(c)) for c in contracts]
        # The months each contract takes a roster for now; the page's script follows the contract chosen.
        today = today or timezone.localdate()
        months = {}
        for contract in contracts:
            allowed = roster_months_allowed(contract, today)
            months[str(contract.public_id)] = (
                {
                    "min": month_key(allowed[0]),
                    "max": month_key(allowed[1]),
                    "text": months_allowed_text(*allowed),
                }
                if allowed
                else {"min": "", "max": "", "text": NO_MONTH_OPEN}
            )
        if not months:
            return
        self.fields["contract"].widget.attrs["data-month-bounds"] = json.dumps(months)
        chosen = str(self.data.get("contract") or self.initial.get("contract") or next(iter(months)))
        bounds = months.get(chosen) or next(iter(months.values()))
        self.fields["month"].help_text = bounds["text"]
        self.fields["month"].widget.attrs.update({"min": bounds["min"], "max": bounds["max"]})


NO_MONTH_OPEN = "No month is open for this contract any more: its retro window has passed."


def months_allowed_text(earliest: date, latest: date) -> str:
    """The month field's help: the months a roster can be sent for, and why not the others."""
    return (
        f"Months open for this contract: {month_key(earliest)} to {month_key(latest)}. Older ones are "
        "outside its retro window or before it began; later ones are in the future or after it ended."
    )


def contract_label(contract) -> str:
    """A contract as a provider tells it from its others: number, plan, bundle, markets and dates."""
    version = contract.current_version
    parts = [contract.number, str(contract.payer)]
    if version is not None:
        parts.append(version.bundle_version.bundle.name)
        if version.markets:
            parts.append(", ".join(version.markets))
        end = version.period_through
        parts.append(
            f"{version.effective_start:%Y-%m-%d} to {end:%Y-%m-%d}"
            if end
            else f"from {version.effective_start:%Y-%m-%d}"
        )
    return " · ".join(parts)


class EligibilityUploadForm(forms.Form):
    file = forms.FileField(
        label="Eligibility file (X12 834)",
        help_text="005010X220A1; an audit (030) file replaces the plan's list",
    )
