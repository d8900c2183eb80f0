import pytest

from accounts.models import Role
from bundles.demo import MARKETS, home_based_definition
from bundles.models import Market


@pytest.fixture
def plan_markets(payer):
    for code, name, rural, minutes, miles in MARKETS:
        Market.objects.create(
            organization=payer,
            code=code,
            name=name,
            rural=rural,
            travel_minutes_per_visit=minutes,
            miles_per_visit=miles,
        )
    return payer


@pytest.fixture
def analyst(payer, plan_markets, member_of):
    return member_of(payer, Role.ANALYST)


@pytest.fixture
def analyst_api(analyst, api_for):
    return api_for(analyst)


@pytest.fixture
def complete_definition():
    return home_based_definition()
