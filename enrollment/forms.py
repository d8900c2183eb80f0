"""Upload forms of the enrollment pages (the services validate everything that matters)."""

from __future__ import annotations

from django import forms


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

    def __init__(self, *args, contracts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contract"].choices = [(str(c.public_id), contract_label(c)) for c in contracts]


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
