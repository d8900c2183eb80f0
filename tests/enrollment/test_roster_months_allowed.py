"""The roster form says which months a contract takes a roster for now (issue 16, providers' paths):
from the retro window's first month (or the contract's first, if later) to this month (or the
contract's last), per contract; the month field's min and max follow, and the services agree."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from core.domain.months import shift_month
from core.errors import ApplicationError
from enrollment import services
from enrollment.forms import NO_MONTH_OPEN, RosterUploadForm
from enrollment.selectors import roster_months_allowed, submittable_contracts
from tests.enrollment.conftest import roster_file, roster_row
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 12, 6)
THIS_MONTH = dt.date(2026, 12, 1)


def allowed(provider_scope, contract, today=TODAY):
    [loaded] = [c for c in submittable_contracts(scope=provider_scope) if c.pk == contract.pk]
    return roster_months_allowed(loaded, today)


def refused(provider_scope, contract, month) -> str | None:
    try:
        services.roster_submit(
            scope=provider_scope,
            contract=contract,
            month=month,
            today=TODAY,
            file=roster_file([roster_row("M1")]),
        )
    except ApplicationError as exc:
        return exc.code
    return None


@pytest.mark.parametrize("window", [0, 1, 3, 12])
def test_the_window_counts_back_from_this_month_and_the_services_agree(
    active_contract, provider_scope, window
):
    contract = active_contract(effective_start=dt.date(2024, 1, 1), retro_window_months=window)
    earliest, latest = allowed(provider_scope, contract)
    assert (earliest, latest) == (shift_month(THIS_MONTH, -window), THIS_MONTH)
    assert refused(provider_scope, contract, shift_month(earliest, -1)) == "outside_retro_window"
    assert refused(provider_scope, contract, shift_month(latest, 1)) == "month_in_future"


def test_a_contract_that_began_inside_the_window_starts_with_its_first_month(active_contract, provider_scope):
    contract = active_contract(effective_start=dt.date(2026, 11, 1), retro_window_months=3)
    assert allowed(provider_scope, contract) == (dt.date(2026, 11, 1), THIS_MONTH)
    assert refused(provider_scope, contract, dt.date(2026, 10, 1)) == "contract_not_in_force"


def test_a_contract_that_ended_stops_at_its_last_month_or_has_no_month_open(active_contract, provider_scope):
    contract = active_contract(
        effective_start=dt.date(2025, 1, 1), effective_end=dt.date(2026, 11, 1), retro_window_months=3
    )
    assert allowed(provider_scope, contract) == (dt.date(2026, 9, 1), dt.date(2026, 10, 1))
    assert refused(provider_scope, contract, dt.date(2026, 11, 1)) == "contract_not_in_force"
    assert allowed(provider_scope, contract, today=dt.date(2027, 3, 1)) is None


def test_the_form_carries_each_contracts_months_and_shows_the_chosen_ones(
    active_contract, provider_scope, provider
):
    wide = active_contract(effective_start=dt.date(2024, 1, 1), retro_window_months=6, markets=("URBAN",))
    ended = active_contract(
        effective_start=dt.date(2024, 1, 1), effective_end=dt.date(2026, 1, 1), markets=("URBAN-E",)
    )
    contracts = list(submittable_contracts(scope=provider_scope))
    form = RosterUploadForm(contracts=contracts, today=TODAY, initial={"contract": str(wide.public_id)})
    months = json.loads(form.fields["contract"].widget.attrs["data-month-bounds"])
    assert months[str(wide.public_id)]["min"] == "2026-06" and months[str(wide.public_id)]["max"] == "2026-12"
    assert months[str(ended.public_id)] == {"min": "", "max": "", "text": NO_MONTH_OPEN}
    month = form["month"]
    assert (month.field.widget.attrs["min"], month.field.widget.attrs["max"]) == ("2026-06", "2026-12")
    assert "2026-06 to 2026-12" in month.help_text
    # a posted form shows the months of the contract posted
    posted = RosterUploadForm({"contract": str(ended.public_id)}, contracts=contracts, today=TODAY)
    assert posted["month"].help_text == NO_MONTH_OPEN


def test_the_page_shows_the_months_and_describes_the_field_with_them(active_contract, provider_admin):
    active_contract(effective_start=dt.date(2024, 1, 1))
    client = Client()
    assert client.login(username=provider_admin.username, password=PASSWORD)
    html = client.get("/rosters/").content.decode()
    assert 'aria-describedby="id_month_helptext"' in html
    assert 'id="id_month_helptext"' in html and "Months open for this contract" in html
    assert "enrollment/roster_form" in html and "data-month-bounds=" in html
