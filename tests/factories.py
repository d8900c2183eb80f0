"""factory_boy factories shared by the whole suite."""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import Membership, Organization, OrganizationKind, Role
from contracts.models import Contract

PASSWORD = "correct-horse-battery-staple"  # noqa: S105


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    kind = OrganizationKind.PROVIDER
    legal_name = factory.Sequence(lambda n: f"Organisation {n}")


class PayerFactory(OrganizationFactory):
    kind = OrganizationKind.PAYER
    legal_name = factory.Sequence(lambda n: f"Health Plan {n}")
    lines_of_business = ["medicaid"]


class ProviderFactory(OrganizationFactory):
    kind = OrganizationKind.PROVIDER
    legal_name = factory.Sequence(lambda n: f"Palliative Program {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(ProviderFactory)
    role = Role.ADMIN


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    number = factory.Sequence(lambda n: f"CTR-2026-{n + 1:04d}")
    payer = factory.SubFactory(PayerFactory)
    provider = factory.SubFactory(ProviderFactory)
    # Sent to the provider: a contract both parties know of (an unsent draft is the plan's alone).
    first_sent_at = factory.LazyFunction(timezone.now)


def second_plan_user(organization, *, other_than=None, role=Role.ANALYST):
    """A second person of ``organization`` with ``role`` (not ``other_than``): the second pair of eyes
    that approves what the first requested (four eyes, payments.services.approval). The same one is
    returned on every call, so a test's approvals read as one colleague's."""
    membership = (
        Membership.objects.filter(organization=organization, role=role, user__username__startswith="second-")
        .exclude(user=other_than)
        .select_related("user")
        .first()
    )
    if membership is not None:
        return membership.user
    user = UserFactory(username=f"second-{role}-{organization.pk}")
    return MembershipFactory(user=user, organization=organization, role=role).user
