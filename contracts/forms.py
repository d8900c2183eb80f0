"""Web forms for contract terms. Types only: the business rules are the services' (their problems
are mapped back onto these fields by ``add_problems``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from contracts import rules
from core.domain.codes import PRORATION_LABELS, PRORATION_RULES, TIER_RULE_LABELS, TIER_RULES, lob_label

HUNDRED = Decimal(100)


def _pct(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value)) * HUNDRED


def _frac(value: Decimal | None) -> Decimal | None:
    return None if value is None else value / HUNDRED


class TermsForm(forms.Form):
    effective_start = forms.DateField(
        label="Effective from",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The first of a month.",
    )
    effective_end = forms.DateField(
        label="Ends on (first day no longer in force)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The first of a month, e.g. 2027-01-01 for a contract through "
        "31 December 2026. Empty: until terminated.",
    )
    markets = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    lines_of_business = forms.MultipleChoiceField(
        label="Lines of business", widget=forms.CheckboxSelectMultiple
    )
    proration_rule = forms.ChoiceField(
        label="Proration", choices=[(r, PRORATION_LABELS[r]) for r in PRORATION_RULES]
    )
    tier_rule = forms.ChoiceField(label="Tier rule", choices=[(r, TIER_RULE_LABELS[r]) for r in TIER_RULES])
    assessment_lookback_months = forms.IntegerField(label="Assessment look-back window (months)", initial=12)
    retro_window_months = forms.IntegerField(label="Retro window (months)", initial=3)
    roster_due_day = forms.IntegerField(label="Roster due day (of the following month)", initial=10)
    withhold_percent = forms.DecimalField(label="Withhold (%)", initial=0, decimal_places=2, min_value=0)
    termination_notice_days = forms.IntegerField(label="Termination notice (days)", initial=90)
    single_approval_limit = forms.DecimalField(
        label="Single-approval limit (US$)",
        required=False,
        decimal_places=2,
        help_text="Under this amount the analyst who requested a payment may approve it alone. "
        "Empty: always two people.",
    )
    recovery_offset_percent = forms.DecimalField(
        label="Recovery offset (% of each payment)",
        required=False,
        decimal_places=4,
        help_text="The most of a payment that may go to repaying a negative balance the provider owes. "
        "Empty: 100% (all of it).",
    )
    episode_installments = forms.IntegerField(
        label="Installments per episode",
        required=False,
        help_text="Episode bundles only: the case rate paid in this many monthly installments. Empty: 1.",
    )
    episode_early_exit = forms.ChoiceField(
        label="On an early exit",
        required=False,
        choices=[("", "Default: paid in full")]
        + [(k, f"Episode {v}") for k, v in rules.EPISODE_EARLY_EXIT.items()],
        help_text="Episode bundles only: death, hospice or disenrollment before the episode ends.",
    )
    episode_renewal = forms.ChoiceField(
        label="Renewal",
        required=False,
        choices=[
            ("", "Default: not renewed"),
            ("no", "Not renewed: enrollment past the episode's end is refused"),
            ("yes", "A new episode may start the day after one ends"),
        ],
        help_text="Episode bundles only.",
    )
    shared_savings = forms.BooleanField(label="Shared savings", required=False)
    ss_baseline_method = forms.ChoiceField(
        label="Baseline",
        required=False,
        choices=[(k, v.capitalize()) for k, v in rules.BASELINE_METHODS.items()],
    )
    ss_minimum_savings_rate = forms.DecimalField(label="Minimum savings rate (%)", required=False, initial=2)
    ss_sharing_rate = forms.DecimalField(label="Sharing rate (%)", required=False, initial=50)
    ss_cap = forms.DecimalField(label="Cap (% of the baseline)", required=False, initial=10)
    ss_quality_gate = forms.DecimalField(
        label="Quality gate (minimum composite score, %)", required=False, initial=0
    )
    ss_baseline_months = forms.IntegerField(
        label="Baseline window (months before enrollment)",
        required=False,
        help_text=f"The members' own history before enrollment. Empty: "
        f"{rules.DEFAULT_BASELINE_MONTHS} months.",
    )
    ss_runout_months = forms.IntegerField(
        label="Run-out (months after the period)",
        required=False,
        help_text="Months for the period's claims to come in before it is settled. Empty: none.",
    )
    ss_completion_threshold = forms.DecimalField(
        label="Claims completion threshold (%)",
        required=False,
        help_text="Settle only once this share of the period's completed claims cost is paid. Empty: none.",
    )
    ss_benchmark_pmpm = forms.DecimalField(
        label="Benchmark TCOC PMPM (US$)",
        required=False,
        decimal_places=2,
        help_text="Trended benchmark only.",
    )
    ss_benchmark_midpoint = forms.DateField(
        label="Benchmark midpoint",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Trended benchmark only: the middle of the period the benchmark was measured on.",
    )
    ss_annual_trend = forms.DecimalField(
        label="Annual trend (%)",
        required=False,
        help_text="Trended benchmark only: e.g. 3.5 for 3.5% a year.",
    )
    quality_bonus = forms.BooleanField(label="Quality bonus", required=False)
    qb_threshold = forms.DecimalField(
        label="Bonus threshold (minimum composite score, %)", required=False, initial=90
    )
    qb_percentage = forms.DecimalField(label="Bonus (% of member-month payments)", required=False, initial=1)

    def __init__(
        self,
        *args,
        markets: list[tuple[str, str]],
        lobs: list[str],
        fee_markets: list[str] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.fields["markets"].choices = markets
        self.fields["lines_of_business"].choices = [(lob, lob_label(lob)) for lob in lobs]
        for code, measure in rules.QUALITY_MEASURES.items():
            unit = " (%)" if measure.unit == "rate" else ""
            self.fields[f"q_{code}_on"] = forms.BooleanField(label=measure.name, required=False)
            self.fields[f"q_{code}_target"] = forms.DecimalField(label=f"Target{unit}", required=False)
            self.fields[f"q_{code}_weight"] = forms.DecimalField(label="Weight (%)", required=False)
            self.fields[f"q_{code}_minimum"] = forms.IntegerField(
                label=f"Minimum {measure.denominator}", required=False, initial=0
            )
            if code == "assessment_within_n_days_rate":
                self.fields[f"q_{code}_n_days"] = forms.IntegerField(
                    label="N (days)", required=False, initial=14
                )
        self.fee_markets = fee_markets or []
        for market in self.fee_markets:
            self.fields[f"fee_{market}"] = forms.DecimalField(
                label=f"Assessment fee, {market} (US$)", required=False, decimal_places=2
            )

    # --- between the form and the service's terms --------------------------------------------

    @staticmethod
    def initial_from(version) -> dict[str, Any]:
        initial = {
            "effective_start": version.effective_start,
            "effective_end": version.effective_end,
            "markets": list(version.markets),
            "lines_of_business": list(version.lines_of_business),
            "proration_rule": version.proration_rule,
            "tier_rule": version.tier_rule,
            "assessment_lookback_months": version.assessment_lookback_months,
            "retro_window_months": version.retro_window_months,
            "roster_due_day": version.roster_due_day,
            "withhold_percent": rules.plain_number(_pct(version.withhold_percentage)),
            "termination_notice_days": version.termination_notice_days,
            "single_approval_limit": version.single_approval_limit,
            "recovery_offset_percent": (
                None
                if version.recovery_offset_share is None
                else rules.plain_number(_pct(version.recovery_offset_share))
            ),
        }
        initial["episode_installments"] = version.episode_installments
        initial["episode_early_exit"] = version.episode_early_exit or ""
        initial["episode_renewal"] = {None: "", True: "yes", False: "no"}[version.episode_renewal]
        savings = version.shared_savings_terms or {}
        if savings:
            initial["shared_savings"] = True
            initial["ss_baseline_method"] = savings["baseline_method"]
            for key in ("minimum_savings_rate", "sharing_rate", "cap", "quality_gate"):
                initial[f"ss_{key}"] = rules.plain_number(_pct(savings[key]))
            if savings.get("baseline_months"):
                initial["ss_baseline_months"] = savings["baseline_months"]
            if savings.get("runout_months") is not None:
                initial["ss_runout_months"] = savings["runout_months"]
            if savings.get("completion_threshold") not in (None, ""):
                initial["ss_completion_threshold"] = rules.plain_number(_pct(savings["completion_threshold"]))
            if savings.get("benchmark_pmpm"):
                initial["ss_benchmark_pmpm"] = savings["benchmark_pmpm"]
            if savings.get("benchmark_midpoint"):
                initial["ss_benchmark_midpoint"] = savings["benchmark_midpoint"]
            if savings.get("annual_trend") not in (None, ""):
                initial["ss_annual_trend"] = rules.plain_number(_pct(savings["annual_trend"]))
        bonus = version.quality_bonus or {}
        if bonus:
            initial["quality_bonus"] = True
            for key in ("threshold", "percentage"):
                initial[f"qb_{key}"] = rules.plain_number(_pct(bonus[key]))
        for term in version.quality_terms:
            code = term["measure"]
            rate = rules.QUALITY_MEASURES[code].unit == "rate"
            initial[f"q_{code}_on"] = True
            initial[f"q_{code}_target"] = rules.plain_number(
                _pct(term["target"]) if rate else Decimal(term["target"])
            )
            initial[f"q_{code}_weight"] = rules.plain_number(_pct(term["weight"]))
            initial[f"q_{code}_minimum"] = term["minimum_denominator"]
            if "n_days" in term:
                initial[f"q_{code}_n_days"] = term["n_days"]
        for fee in version.assessment_fees.all():
            initial[f"fee_{fee.market}"] = fee.fee
        return initial

    def terms(self) -> dict[str, Any]:
        data = self.cleaned_data
        terms = {
            key: data[key]
            for key in (
                "effective_start",
                "effective_end",
                "markets",
                "lines_of_business",
                "proration_rule",
                "tier_rule",
                "assessment_lookback_months",
                "retro_window_months",
                "roster_due_day",
                "termination_notice_days",
                "single_approval_limit",
            )
        }
        terms["withhold_percentage"] = _frac(data["withhold_percent"])
        terms["recovery_offset_share"] = _frac(data.get("recovery_offset_percent"))
        terms["episode_installments"] = data.get("episode_installments")
        terms["episode_early_exit"] = data.get("episode_early_exit") or None
        terms["episode_renewal"] = {"yes": True, "no": False}.get(data.get("episode_renewal") or "")
        self.quality_order = []
        quality = []
        for code, measure in rules.QUALITY_MEASURES.items():
            if not data.get(f"q_{code}_on"):
                continue
            target = data.get(f"q_{code}_target")
            term = {
                "measure": code,
                "target": _frac(target) if measure.unit == "rate" else target,
                "weight": _frac(data.get(f"q_{code}_weight")),
                "minimum_denominator": data.get(f"q_{code}_minimum") or 0,
            }
            if f"q_{code}_n_days" in data:
                term["n_days"] = data.get(f"q_{code}_n_days") or 14
            quality.append(term)
            self.quality_order.append(code)
        terms["quality_terms"] = quality
        if data.get("shared_savings"):
            terms["shared_savings_terms"] = {"baseline_method": data.get("ss_baseline_method")} | {
                key: _frac(data.get(f"ss_{key}"))
                for key in ("minimum_savings_rate", "sharing_rate", "cap", "quality_gate")
            }
            savings = terms["shared_savings_terms"]
            if data.get("ss_baseline_months") is not None:  # empty: the default window, nothing stored
                savings["baseline_months"] = data["ss_baseline_months"]
            if data.get("ss_runout_months") is not None:  # empty: no run-out, nothing stored
                savings["runout_months"] = data["ss_runout_months"]
            if data.get("ss_completion_threshold") is not None:
                savings["completion_threshold"] = _frac(data["ss_completion_threshold"])
            if data.get("ss_baseline_method") == "trended_benchmark":
                savings.update(
                    benchmark_pmpm=data.get("ss_benchmark_pmpm"),
                    benchmark_midpoint=data.get("ss_benchmark_midpoint"),
                    annual_trend=_frac(data.get("ss_annual_trend")),
                )
        else:
            terms["shared_savings_terms"] = {}
        if data.get("quality_bonus"):
            terms["quality_bonus"] = {
                key: _frac(data.get(f"qb_{key}")) for key in ("threshold", "percentage")
            }
        else:
            terms["quality_bonus"] = None
        return terms

    def fees(self) -> dict[str, Decimal]:
        return {
            m: self.cleaned_data[f"fee_{m}"]
            for m in self.fee_markets
            if self.cleaned_data.get(f"fee_{m}") is not None
        }

    def add_problems(self, problems: list[dict[str, str]], message: str) -> None:
        """Put each service problem next to its field; the rest on top of the form."""
        order = getattr(self, "quality_order", [])
        for problem in problems:
            path, field = problem["path"], None
            if path in self.fields:
                field = path
            elif path == "withhold_percentage":
                field = "withhold_percent"
            elif path == "recovery_offset_share":
                field = "recovery_offset_percent"
            elif path.startswith("shared_savings_terms."):
                field = "ss_" + path.split(".", 1)[1]
            elif path.startswith("quality_bonus."):
                field = "qb_" + path.split(".", 1)[1]
            elif path.startswith("quality_terms[") and "]." in path:
                index, attr = path[len("quality_terms[") :].split("].", 1)
                if index.isdigit() and int(index) < len(order):
                    attr = {"minimum_denominator": "minimum"}.get(attr, attr)
                    field = (
                        f"q_{order[int(index)]}_{attr}" if attr != "measure" else f"q_{order[int(index)]}_on"
                    )
            elif path.startswith("assessment_fees."):
                field = "fee_" + path.split(".", 1)[1]
            elif path.startswith(("markets", "lines_of_business")):
                field = path.split("[")[0]
            if field in self.fields:
                self.add_error(field, problem["message"])
            else:
                self.add_error(None, problem["message"])
        if not problems:
            self.add_error(None, message)

    def quality_rows(self) -> list[dict[str, Any]]:
        rows = []
        for code, measure in rules.QUALITY_MEASURES.items():
            row = {
                "code": code,
                "measure": measure,
                "on": self[f"q_{code}_on"],
                "target": self[f"q_{code}_target"],
                "weight": self[f"q_{code}_weight"],
                "minimum": self[f"q_{code}_minimum"],
                "n_days": self[f"q_{code}_n_days"] if f"q_{code}_n_days" in self.fields else None,
            }
            rows.append(row)
        return rows

    def fee_fields(self):
        return [self[f"fee_{m}"] for m in self.fee_markets]


class ContractCreateForm(TermsForm):
    provider = forms.ChoiceField(label="Provider")
    bundle_version = forms.ChoiceField(label="Bundle version")

    def __init__(
        self, *args, providers: list[tuple[str, str]], bundle_versions: list[tuple[str, str]], **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [("", "Choose a provider")] + providers
        self.fields["bundle_version"].choices = bundle_versions


class ReturnForm(forms.Form):
    comments = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class TerminateForm(forms.Form):
    end_date = forms.DateField(
        label="No longer in force from", widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    for_cause = forms.BooleanField(label="For cause (waives the notice period)", required=False)


class AmendForm(forms.Form):
    effective_start = forms.DateField(
        label="Amendment effective from", widget=forms.DateInput(attrs={"type": "date"})
    )
