"""Bundles API: list/create, versions, the draft (edit, publish, diff), retire, export/import."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts.api_base import ORGANIZATION_PARAMETER, ScopedAPIView, ScopedMixin
from accounts.serializers import ShareInputSerializer
from bundles import selectors, services
from bundles.models import Bundle, IdtRole, Market
from bundles.serializers import (
    BundleDetailSerializer,
    BundleSerializer,
    BundleVersionSerializer,
    BundleVersionShareSerializer,
    DefinitionInputSerializer,
    DiffEntrySerializer,
    IdtRoleSerializer,
    MarketSerializer,
    PricingFileSerializer,
)
from core.api import ErrorSerializer
from core.domain.codes import LINES_OF_BUSINESS
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent

LIST_PARAMETERS = [
    ORGANIZATION_PARAMETER,
    OpenApiParameter("search", str, description="Part of the name"),
    OpenApiParameter("status", str, enum=["draft", "published", "retired"]),
    OpenApiParameter("lob", str, enum=list(LINES_OF_BUSINESS)),
]


class BundleListApi(ScopedMixin, generics.ListAPIView):
    """Bundles of your plan, or (for a provider) the bundles you hold a contract on."""

    queryset = Bundle.objects.none()
    serializer_class = BundleSerializer
    filter_backends: list = []

    def get_queryset(self):
        params = self.request.query_params
        return selectors.bundle_list(
            scope=self.scope,
            search=params.get("search", ""),
            status=params.get("status", ""),
            lob=params.get("lob", ""),
        )

    @extend_schema(parameters=LIST_PARAMETERS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=DefinitionInputSerializer,
        responses={201: BundleVersionSerializer},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        serializer = DefinitionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bundle = services.bundle_create(scope=self.scope, definition=serializer.validated_data["definition"])
        draft = selectors.draft_of(scope=self.scope, bundle=bundle)
        return Response(BundleVersionSerializer(draft).data, status=status.HTTP_201_CREATED)


class BundleDetailApi(ScopedAPIView):
    @extend_schema(responses=BundleDetailSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, bundle_id):
        bundle = selectors.bundle_get(scope=self.scope, public_id=bundle_id)
        versions = selectors.version_list(scope=self.scope, bundle=bundle)
        return Response(BundleDetailSerializer({"bundle": bundle, "versions": versions}).data)


class BundleVersionApi(ScopedAPIView):
    """One version (a number, or `draft`)."""

    @extend_schema(responses=BundleVersionSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, bundle_id, number):
        bundle = selectors.bundle_get(scope=self.scope, public_id=bundle_id)
        return Response(
            BundleVersionSerializer(
                selectors.version_get(scope=self.scope, bundle=bundle, number=number)
            ).data
        )


class BundleDraftApi(ScopedAPIView):
    def _bundle(self, bundle_id):
        return selectors.bundle_get(scope=self.scope, public_id=bundle_id)

    @extend_schema(responses=BundleVersionSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, bundle_id):
        bundle = self._bundle(bundle_id)
        return Response(
            BundleVersionSerializer(
                selectors.version_get(scope=self.scope, bundle=bundle, number="draft")
            ).data
        )

    @extend_schema(
        request=DefinitionInputSerializer,
        responses=BundleVersionSerializer,
        parameters=[ORGANIZATION_PARAMETER],
    )
    def put(self, request, bundle_id):
        bundle = self._bundle(bundle_id)
        serializer = DefinitionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        draft = services.draft_update(
            scope=self.scope, bundle=bundle, definition=serializer.validated_data["definition"]
        )
        return Response(BundleVersionSerializer(draft).data)

    @extend_schema(request=None, responses={204: None}, parameters=[ORGANIZATION_PARAMETER])
    def delete(self, request, bundle_id):
        services.draft_discard(scope=self.scope, bundle=self._bundle(bundle_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class BundlePublishApi(ScopedAPIView):
    """Publish the draft. A 400 lists every missing item in `details.problems`, each with its path."""

    @extend_schema(
        request=None, responses={201: BundleVersionSerializer}, parameters=[ORGANIZATION_PARAMETER]
    )
    def post(self, request, bundle_id):
        bundle = selectors.bundle_get(scope=self.scope, public_id=bundle_id)
        version = services.draft_publish(scope=self.scope, bundle=bundle)
        return Response(BundleVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class BundleNewDraftApi(ScopedAPIView):
    @extend_schema(
        request=None, responses={201: BundleVersionSerializer}, parameters=[ORGANIZATION_PARAMETER]
    )
    def post(self, request, bundle_id, number):
        bundle = selectors.bundle_get(scope=self.scope, public_id=bundle_id)
        version = selectors.version_get(scope=self.scope, bundle=bundle, number=number)
        draft = services.version_new_draft(scope=self.scope, version=version)
        return Response(BundleVersionSerializer(draft).data, status=status.HTTP_201_CREATED)


class BundleRetireApi(ScopedAPIView):
    @extend_schema(request=None, responses=BundleVersionSerializer, parameters=[ORGANIZATION_PARAMETER])
    def post(self, request, bundle_id, number):
        bundle = selectors.bundle_get(scope=self.scope, public_id=bundle_id)
        version = selectors.version_get(scope=self.scope, bundle=bundle, number=number)
        return Response(
            BundleVersionSerializer(services.version_retire(scope=self.scope, version=version)).data
        )


class BundleDiffApi(ScopedAPIView):
    """Changes from version `against` (default: the version a draft was started from) to `number`."""

    @extend_schema(
        responses=DiffEntrySerializer(many=True),
        parameters=[ORGANIZATION_PARAMETER, OpenApiParameter("against", OpenApiTypes.INT, required=False)],
    )
    def get(self, request, bundle_id, number):
        bundle = selectors.bundle_get(scope=self.scope, public_id=bundle_id)
        version = selectors.version_get(scope=self.scope, bundle=bundle, number=number)
        _, changes = selectors.version_changes(
            scope=self.scope, bundle=bundle, version=version, against=request.query_params.get("against")
        )
        return Response(DiffEntrySerializer(changes, many=True).data)


class BundleExportApi(ScopedAPIView):
    """The version as a pricing file (`carebundle.pricing/1`, `bundle` part)."""

    @extend_schema(responses=PricingFileSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, bundle_id, number):
        bundle = selectors.bundle_get(scope=self.scope, public_id=bundle_id)
        version = selectors.version_get(scope=self.scope, bundle=bundle, number=number)
        response = Response(services.bundle_export(version=version))
        response["Content-Disposition"] = (
            f'attachment; filename="bundle-{bundle.public_id}-{version.label}.json"'
        )
        return response


class BundleVersionShareListApi(ScopedAPIView):
    """The version's shares, active and revoked (its owner only). POST shares the published version,
    read-only, with an organisation of the other kind: 409 `version_not_published` for a draft or a
    retired version, 409 `already_shared`, 400 `share_with_own_organization` or `unknown_recipient`."""

    def _version(self, bundle_id, number):
        bundle = selectors.bundle_get(scope=self.scope, public_id=bundle_id)
        return selectors.version_get(scope=self.scope, bundle=bundle, number=number)

    @extend_schema(responses=BundleVersionShareSerializer(many=True), parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, bundle_id, number):
        shares = selectors.version_share_list(scope=self.scope, version=self._version(bundle_id, number))
        return Response(BundleVersionShareSerializer(shares, many=True).data)

    @extend_schema(
        request=ShareInputSerializer,
        responses={201: BundleVersionShareSerializer, 409: ErrorSerializer},
        parameters=[ORGANIZATION_PARAMETER],
    )
    def post(self, request, bundle_id, number):
        version = self._version(bundle_id, number)
        serializer = ShareInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        organization = account_selectors.share_recipient(scope=self.scope, public_id=data["organization_id"])
        share = services.version_share(
            scope=self.scope, version=version, organization=organization, note=data["note"]
        )
        return Response(BundleVersionShareSerializer(share).data, status=status.HTTP_201_CREATED)


class BundleVersionShareRevokeApi(ScopedAPIView):
    """Stop sharing the version with the share's organisation (it gets 404 again); 409 `share_revoked`
    when it already was."""

    @extend_schema(
        request=None,
        responses={200: BundleVersionShareSerializer, 409: ErrorSerializer},
        parameters=[ORGANIZATION_PARAMETER],
    )
    def post(self, request, bundle_id, number, share_id):
        bundle = selectors.bundle_get(scope=self.scope, public_id=bundle_id)
        version = selectors.version_get(scope=self.scope, bundle=bundle, number=number)
        share = selectors.version_share_get(scope=self.scope, version=version, share_id=share_id)
        share = services.version_share_revoke(scope=self.scope, share=share)
        return Response(BundleVersionShareSerializer(share).data)


class BundleAdoptApi(ScopedAPIView):
    """Adopt a version another organisation shared with yours: a new bundle of your own, its draft the
    shared definition, recording where it came from. Roles and markets you lack stay in the draft;
    publishing lists them."""

    @extend_schema(request=None, responses={201: BundleDetailSerializer}, parameters=[ORGANIZATION_PARAMETER])
    def post(self, request, bundle_id, number):
        bundle = selectors.bundle_get(scope=self.scope, public_id=bundle_id)
        version = selectors.version_get(scope=self.scope, bundle=bundle, number=number)
        adopted = services.bundle_adopt(scope=self.scope, version=version)
        adopted = selectors.bundle_get(scope=self.scope, public_id=adopted.public_id)
        versions = selectors.version_list(scope=self.scope, bundle=adopted)
        return Response(
            BundleDetailSerializer({"bundle": adopted, "versions": versions}).data,
            status=status.HTTP_201_CREATED,
        )


class BundleImportApi(ScopedAPIView):
    """Create a bundle (as a draft) from a pricing file. Every error has its JSON path; nothing is
    created when there is any."""

    @extend_schema(
        request=PricingFileSerializer,
        responses={201: BundleVersionSerializer},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        bundle = services.bundle_import(scope=self.scope, document=request.data)
        draft = selectors.draft_of(scope=self.scope, bundle=bundle)
        return Response(BundleVersionSerializer(draft).data, status=status.HTTP_201_CREATED)


class MarketListApi(ScopedMixin, generics.ListAPIView):
    """Your plan's markets (a provider sees its contracting plans' markets)."""

    queryset = Market.objects.none()
    serializer_class = MarketSerializer
    search_fields = ["code", "name"]
    filterset_fields = ["rural"]

    def get_queryset(self):
        return selectors.market_list(scope=self.scope)

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=MarketSerializer, responses={201: MarketSerializer}, parameters=[ORGANIZATION_PARAMETER]
    )
    def post(self, request):
        serializer = MarketSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        market = services.market_create(scope=self.scope, **serializer.validated_data)
        return Response(MarketSerializer(market).data, status=status.HTTP_201_CREATED)


class IdtRoleListApi(ScopedMixin, generics.ListAPIView):
    """The IDT role catalogue: the platform's roles and your plan's own."""

    queryset = IdtRole.objects.none()
    serializer_class = IdtRoleSerializer
    search_fields = ["code", "name"]

    def get_queryset(self):
        return selectors.role_list(scope=self.scope)

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=IdtRoleSerializer, responses={201: IdtRoleSerializer}, parameters=[ORGANIZATION_PARAMETER]
    )
    def post(self, request):
        serializer = IdtRoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        role = services.idt_role_create(scope=self.scope, **serializer.validated_data)
        return Response(IdtRoleSerializer(role).data, status=status.HTTP_201_CREATED)
