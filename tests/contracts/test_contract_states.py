"""The lifecycles of a contract and of its versions (contracts.states): every declared transition is
reachable through the services; every undeclared one a person may fire is refused with today's error and
never offered by the contract page or the API's ``actions``, which list exactly what each side may do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from django.test import Client

from contracts import services
from contracts.models import Contract, ContractStatus, ContractVersion, VersionStatus
from contracts.states import CONTRACT, CONTRACT_VERSION, NOT_COUNTERABLE_MESSAGE, NOT_REJECTABLE_MESSAGE
from core.errors import ConflictError
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

AMENDMENT_START = date(2026, 7, 1)  # the contracts under test run through 2026
TERMINATION = date(2026, 6, 1)
AFTER_THE_END = date(2027, 1, 1)

# The refusals as the API answered them before the declaration existed.
TODAY_REFUSALS = {
    "edit": services.NOT_EDITABLE_MESSAGE,
    "propose": services.NOT_PROPOSABLE_MESSAGE,
    "accept": services.NOT_ACCEPTABLE_MESSAGE,
    "return": services.NOT_RETURNABLE_MESSAGE,
    "counter": NOT_COUNTERABLE_MESSAGE,
    "reject_counter": NOT_REJECTABLE_MESSAGE,
    "amend": services.NOT_AMENDABLE_MESSAGE,
    "terminate": services.NOT_TERMINABLE_MESSAGE,
}


def person_undeclared(machine, states) -> list[tuple[str, str]]:
    return [
        (status, action)
        for status in states
        for action in machine.actions
        if machine.permission(action) is not None and not machine.can_fire(action, status)
    ]


VERSION_UNDECLARED = person_undeclared(CONTRACT_VERSION, VersionStatus.values)
CONTRACT_UNDECLARED = person_undeclared(CONTRACT, ContractStatus.values)


@dataclass
class Parties:
    contract: Contract
    plan: object
    provider: object

    def version(self, number: int) -> ContractVersion:
        return ContractVersion.objects.get(contract=self.contract, number=number)

    def refresh(self) -> Contract:
        self.contract.refresh_from_db()
        return self.contract

    # the services, as each side calls them
    def edit(self, number: int = 1):
        return services.contract_version_update(
            scope=self.plan, version=self.version(number), terms={"roster_due_day": 12}
        )

    def propose(self):
        return services.contract_propose(scope=self.plan, contract=self.contract)

    def accept(self, side: str = "plan"):
        return services.contract_accept(scope=getattr(self, side), contract=self.contract)

    def accept_by_both(self):
        self.accept("plan")
        return self.accept("provider")

    def give_back(self):
        return services.contract_return(scope=self.provider, contract=self.contract, comments="Tier 2 is low")

    def counter(self, side: str = "provider"):
        version = self.contract.versions.get(status__in=["draft", "proposed"]) if self.pending() else None
        cell = version.rates.first() if version else None
        rates = (
            [{"tier": cell.tier, "market": cell.market, "lob": cell.lob, "rate": cell.pmpm + 1}]
            if cell
            else []
        )
        for rate in rates:
            rate["reason"] = "Staffing costs"
        return services.contract_counter(scope=getattr(self, side), contract=self.contract, rates=rates)

    def reject_counter(self):
        pending = self.pending()
        if pending is not None and pending.status == VersionStatus.PROPOSED:
            self.counter("provider")
        return services.contract_reject_counter(scope=self.plan, contract=self.contract, reason="Too high")

    def pending(self) -> ContractVersion | None:
        return self.contract.versions.filter(status__in=["draft", "proposed"]).first()

    def amend(self):
        return services.contract_amend(
            scope=self.plan, contract=self.contract, effective_start=AMENDMENT_START
        )

    def terminate(self):
        return services.contract_terminate(
            scope=self.plan, contract=self.contract, end_date=TERMINATION, reason="Closing", for_cause=True
        )

    def expire(self):
        return services.contracts_expire_due(today=AFTER_THE_END)

    def supersede(self):
        self.amend()
        self.propose()
        return self.accept_by_both()


@pytest.fixture
def parties(open_contract, plan_scope, provider_scope):
    return lambda: Parties(open_contract(), plan_scope, provider_scope)


def version_in_state(parties, status: str, *, amendment: bool = False) -> tuple[Parties, int]:
    """A contract whose version (1, or the amendment 2) is in ``status``, through the services."""
    p = parties()
    if status == VersionStatus.DRAFT and not amendment:
        return p, 1
    p.propose()
    if status == VersionStatus.PROPOSED and not amendment:
        return p, 1
    p.accept_by_both()
    if amendment or status == VersionStatus.WITHDRAWN:
        p.amend()
        if status == VersionStatus.PROPOSED:
            p.propose()
        if status == VersionStatus.WITHDRAWN:
            p.terminate()
        return p, 2
    {
        VersionStatus.ACTIVE: lambda: None,
        VersionStatus.SUPERSEDED: p.supersede,
        VersionStatus.TERMINATED: p.terminate,
        VersionStatus.EXPIRED: p.expire,
    }[status]()
    return p, 1


def contract_in_state(parties, status: str) -> Parties:
    p = parties()
    steps = {
        ContractStatus.DRAFT: [],
        ContractStatus.PROPOSED: [p.propose],
        ContractStatus.ACTIVE: [p.propose, p.accept_by_both],
        ContractStatus.TERMINATED: [p.propose, p.accept_by_both, p.terminate],
        ContractStatus.EXPIRED: [p.propose, p.accept_by_both, p.expire],
    }[status]
    for step in steps:
        step()
    assert p.refresh().status == status
    return p


# How each declared move is fired through the services.
FIRE_ON_VERSION = {
    "edit": lambda p, n: p.edit(n),
    "propose": lambda p, n: p.propose(),
    "accept": lambda p, n: p.accept("plan"),
    "return": lambda p, n: p.give_back(),
    "counter": lambda p, n: p.counter(),
    "reject_counter": lambda p, n: p.reject_counter(),
    "activate": lambda p, n: p.accept_by_both(),
    "supersede": lambda p, n: p.supersede(),
    "terminate": lambda p, n: p.terminate(),
    "expire": lambda p, n: p.expire(),
    "withdraw": lambda p, n: p.terminate(),  # a pending amendment goes with its contract
}
FIRE_ON_CONTRACT = {
    "propose": lambda p: p.propose(),
    "return": lambda p: p.give_back(),
    "activate": lambda p: p.accept_by_both(),  # version 1's, or an amendment's (below)
    "amend": lambda p: p.amend(),
    "terminate": lambda p: p.terminate(),
    "expire": lambda p: p.expire(),
}


def test_the_declarations_cover_every_status_and_every_action_has_a_service():
    assert set(CONTRACT_VERSION.states) == set(VersionStatus.values)
    assert set(CONTRACT.states) == set(ContractStatus.values)
    assert set(FIRE_ON_VERSION) == set(CONTRACT_VERSION.actions)
    assert set(FIRE_ON_CONTRACT) == set(CONTRACT.actions)


@pytest.mark.parametrize("status, action, target", CONTRACT_VERSION.moves(), ids=lambda v: str(v))
def test_every_declared_version_transition_is_reachable_through_the_services(parties, status, action, target):
    p, number = version_in_state(parties, status, amendment=action == "withdraw")
    assert p.version(number).status == status
    FIRE_ON_VERSION[action](p, number)
    assert p.version(number).status == target


@pytest.mark.parametrize("status, action, target", CONTRACT.moves(), ids=lambda v: str(v))
def test_every_declared_contract_transition_is_reachable_through_the_services(
    parties, status, action, target
):
    p = contract_in_state(parties, status)
    if action == "activate" and status == ContractStatus.ACTIVE:
        p.supersede()  # an amendment activates: the contract stays active on its new version
        assert p.refresh().current_version.number == 2
    else:
        FIRE_ON_CONTRACT[action](p)
    assert p.refresh().status == target


def refused(call, action: str) -> ConflictError:
    with pytest.raises(ConflictError) as caught:
        call()
    error = caught.value
    assert (error.status, error.code, error.message) == (409, "invalid_transition", TODAY_REFUSALS[action])
    assert error.details["action"] == action
    return error


@pytest.mark.parametrize(
    "status, action", VERSION_UNDECLARED, ids=[f"{s}-{a}" for s, a in VERSION_UNDECLARED]
)
def test_every_undeclared_version_transition_is_refused_and_not_offered(
    parties, plan_cm, provider_admin, api_for, status, action
):
    p, number = version_in_state(parties, status)
    before = (p.refresh().status, p.version(number).status)
    error = refused(lambda: FIRE_ON_VERSION[action](p, number), action)
    assert error.details["status"] in (status, p.contract.status)  # the contract's when nothing is pending
    assert (p.refresh().status, p.version(number).status) == before
    assert action not in offered(p.contract, plan_cm, api_for) | offered(p.contract, provider_admin, api_for)


@pytest.mark.parametrize(
    "status, action", CONTRACT_UNDECLARED, ids=[f"{s}-{a}" for s, a in CONTRACT_UNDECLARED]
)
def test_every_undeclared_contract_transition_is_refused_and_not_offered(
    parties, plan_cm, provider_admin, api_for, status, action
):
    p = contract_in_state(parties, status)
    error = refused(lambda: FIRE_ON_CONTRACT[action](p), action)
    assert error.details["status"] == status
    assert p.refresh().status == status
    assert action not in offered(p.contract, plan_cm, api_for) | offered(p.contract, provider_admin, api_for)


def offered(contract: Contract, user, api_for) -> set[str]:
    """The actions the contract page offers ``user``; the API's ``actions`` must say the same."""
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    page = client.get(f"/contracts/{contract.number}/")
    body = api_for(user).get(f"/api/v1/contracts/{contract.number}/")
    if page.status_code == 404:  # a provider does not see a contract the plan never sent
        assert body.status_code == 404
        return set()
    html = page.content.decode()
    base = f"/contracts/{contract.number}/"
    pending = contract.versions.filter(status__in=["draft", "proposed"]).first()
    markers = {
        "edit": f'href="{base}versions/{pending.number if pending else 0}/edit/"',
        "propose": f'action="{base}propose/"',
        "accept": f'action="{base}accept/"',
        "return": f'action="{base}return/"',
        "counter": f'action="{base}counter/"',
        "reject_counter": f'action="{base}reject-counter/"',
        "amend": f'action="{base}amend/"',
        "terminate": f'action="{base}terminate/"',
    }
    on_page = {action for action, marker in markers.items() if marker in html}
    assert set(body.json()["actions"]) == on_page
    return on_page


# What each side may do, scenario by scenario, as before the declaration (contract status, pending version).
SCENARIOS = {
    "draft": (["edit", "propose"], None),
    "proposed": (["accept"], ["accept", "return", "counter"]),
    "proposed, the plan accepted": ([], ["accept", "return", "counter"]),
    # the provider's counter-offer is on the table: the plan answers it (a new round: accept again)
    "proposed, the provider countered": (["accept", "counter", "reject_counter"], ["accept", "return"]),
    "active": (["amend", "terminate"], []),
    "amendment drafted": (["edit", "propose", "terminate"], []),
    "amendment proposed": (["accept", "terminate"], ["accept", "return", "counter"]),
    "terminated": ([], []),
    "expired": ([], []),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_side_is_offered_exactly_its_declared_actions(
    parties, plan_cm, provider_admin, api_for, scenario
):
    p = parties()
    steps = {
        "draft": [],
        "proposed": [p.propose],
        "proposed, the plan accepted": [p.propose, p.accept],
        "proposed, the provider countered": [p.propose, p.accept, p.counter],
        "active": [p.propose, p.accept_by_both],
        "amendment drafted": [p.propose, p.accept_by_both, p.amend],
        "amendment proposed": [p.propose, p.accept_by_both, p.amend, p.propose],
        "terminated": [p.propose, p.accept_by_both, p.terminate],
        "expired": [p.propose, p.accept_by_both, p.expire],
    }[scenario]
    for step in steps:
        step()
    contract = p.refresh()
    pending = contract.versions.filter(status__in=["draft", "proposed"]).first()
    declared = set(CONTRACT.allowed(contract.status)) | set(
        CONTRACT_VERSION.allowed(pending.status) if pending else []
    )
    plan_expected, provider_expected = SCENARIOS[scenario]
    assert set(plan_expected) <= declared and set(provider_expected or []) <= declared
    assert offered(contract, plan_cm, api_for) == set(plan_expected)
    assert api_for(plan_cm).get(f"/api/v1/contracts/{contract.number}/").json()["actions"] == plan_expected
    assert offered(contract, provider_admin, api_for) == set(provider_expected or [])
    if provider_expected is not None:
        body = api_for(provider_admin).get(f"/api/v1/contracts/{contract.number}/").json()
        assert body["actions"] == provider_expected
