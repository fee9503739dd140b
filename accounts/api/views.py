from __future__ import annotations

import django_filters
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.response import Response

from accounts.api.base import (
    IDEMPOTENCY_PARAMETER,
    ApiViewSet,
    CachedListMixin,
    HistoryMixin,
    SoftDestroyMixin,
)
from accounts.api.serializers import (
    OWNER_TYPES,
    AccountSerializer,
    AccountUpdateSerializer,
    AddressCreateSerializer,
    AddressSerializer,
    AddressUpdateSerializer,
    SettingSerializer,
    SettingUpdateSerializer,
    UserCreateSerializer,
    UserSerializer,
    UserUpdateSerializer,
)
from accounts.errors import UnknownSetting
from accounts.models import Account, AccountSetting, Address, User
from accounts.selectors import (
    account_list,
    account_setting_effective_get,
    account_setting_effective_list,
    account_setting_rows,
    address_list,
    user_list,
)
from accounts.services import (
    account_setting_reset,
    account_setting_set,
    account_update,
    address_add,
    address_update,
    user_create_by,
    user_delete,
    user_update,
)

# --- Account ---------------------------------------------------------------------------------


class AccountViewSet(HistoryMixin, ApiViewSet):
    """Your own account. Status, balance, currency and the Lithic token are managed by the
    program; the tax id can be set but is only ever shown as its last four characters."""

    policy_resource = "account"
    serializer_class = AccountSerializer
    filter_backends = ()
    model = Account

    def scoped(self, *, actor):
        return account_list(actor=actor)

    def get_object(self):
        # A singleton: the caller's account, still read through the scoped selector.
        account = get_object_or_404(self.get_queryset())
        self.check_object_permissions(self.request, account)
        return account

    def retrieve(self, request, *args, **kwargs):
        return self.output(self.get_object())

    @extend_schema(request=AccountUpdateSerializer, responses=AccountSerializer)
    def partial_update(self, request, *args, **kwargs):
        account = self.get_object()
        data = self.validated_input(AccountUpdateSerializer)
        return self.output(account_update(account=account, **data))


# --- Users -----------------------------------------------------------------------------------


class UserViewSet(
    HistoryMixin,
    CachedListMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    SoftDestroyMixin,
    ApiViewSet,
):
    """Users of your account. Phone and date of birth are write-only (the phone is shown as its
    last four). Users created here have no console password. Only an owner may grant or remove
    the owner role or change an owner's email; nobody deletes themselves; the last active
    owner cannot be demoted, deactivated or deleted. Deleting soft-deletes: the user's history
    stays."""

    policy_resource = "users"
    cache_resources = ("users",)
    serializer_class = UserSerializer
    filterset_fields = ("role", "is_active")
    model = User

    def scoped(self, *, actor):
        return user_list(actor=actor).order_by("email", "id")

    @extend_schema(
        request=UserCreateSerializer,
        responses={201: UserSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def create(self, request, *args, **kwargs):
        data = self.validated_input(UserCreateSerializer)
        return self.output(user_create_by(actor=request.user, **data), status=201)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def partial_update(self, request, *args, **kwargs):
        user = self.get_object()
        data = self.validated_input(UserUpdateSerializer)
        return self.output(user_update(user=user, actor=request.user, **data))

    def perform_destroy(self, instance):
        user_delete(user=instance, actor=self.request.user)


# --- Addresses -------------------------------------------------------------------------------


class AddressFilter(django_filters.FilterSet):
    owner_type = django_filters.ChoiceFilter(choices=OWNER_TYPES, method="filter_owner_type")
    owner = django_filters.UUIDFilter(
        method="filter_owner", help_text="Token of the owning account or user"
    )
    address_type = django_filters.ChoiceFilter(choices=Address.Type.choices)

    class Meta:
        model = Address
        fields = ("owner_type", "owner", "address_type")

    @staticmethod
    def _content_type(owner_type: str) -> ContentType:
        return ContentType.objects.get_for_model(User if owner_type == "user" else Account)

    def filter_owner_type(self, queryset, name, value):
        return queryset.filter(owner_type=self._content_type(value))

    def filter_owner(self, queryset, name, value):
        users = User.all_objects.filter(token=value).values("pk")
        accounts = Account.all_objects.filter(token=value).values("pk")
        return queryset.filter(
            Q(owner_type=self._content_type("user"), owner_id__in=users)
            | Q(owner_type=self._content_type("account"), owner_id__in=accounts)
        )


class AddressViewSet(
    HistoryMixin,
    CachedListMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    SoftDestroyMixin,
    ApiViewSet,
):
    """Postal addresses of your account and of its users. Street lines are personal data,
    stored encrypted; they are returned in full to the roles that may read addresses (owner,
    admin, analyst), since they are the account's own data and cards ship to them. One primary
    address per owner and type: a new primary demotes the previous one. The owner of an address
    cannot change (delete it and add it to the other owner)."""

    policy_resource = "addresses"
    cache_resources = ("addresses",)
    serializer_class = AddressSerializer
    filterset_class = AddressFilter
    model = Address

    def scoped(self, *, actor):
        return address_list(actor=actor).order_by("-created_at", "-id")

    @extend_schema(
        request=AddressCreateSerializer,
        responses={201: AddressSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def create(self, request, *args, **kwargs):
        data = dict(self.validated_input(AddressCreateSerializer))
        owner = data.pop("owner")
        return self.output(address_add(owner=owner, **data), status=201)

    @extend_schema(request=AddressUpdateSerializer, responses=AddressSerializer)
    def partial_update(self, request, *args, **kwargs):
        address = self.get_object()
        data = self.validated_input(AddressUpdateSerializer)
        return self.output(address_update(address=address, **data))


# --- Account settings ------------------------------------------------------------------------


class AccountSettingViewSet(HistoryMixin, CachedListMixin, ApiViewSet):
    """Typed settings of your account, identified by their key. Every registered key is
    listed with its effective value; PUT sets a value of the key's type (decimals as strings,
    never JSON numbers with a fraction), DELETE returns the key to its default."""

    policy_resource = "account_settings"
    cache_resources = ("settings",)
    serializer_class = SettingSerializer
    filter_backends = ()
    lookup_field = "key"
    lookup_value_regex = "[^/]+"
    model = AccountSetting

    def scoped(self, *, actor):
        return account_setting_rows(actor=actor)

    def get_object(self):
        key = self.kwargs[self.lookup_field]
        setting = account_setting_effective_get(actor=self.request.user, key=key)
        if setting is None:
            raise UnknownSetting(f"There is no setting '{key}'.")
        self.check_object_permissions(self.request, setting)
        return setting

    def uncached_list(self, request, *args, **kwargs):
        page = self.paginate_queryset(account_setting_effective_list(actor=request.user))
        return self.get_paginated_response(SettingSerializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return self.output(self.get_object())

    @extend_schema(request=SettingUpdateSerializer, responses=SettingSerializer)
    def update(self, request, *args, **kwargs):
        setting = self.get_object()
        value = self.validated_input(SettingUpdateSerializer)["value"]
        account_setting_set(account=request.user.account, key=setting.key, value=value)
        return self.output(self.get_object())

    @extend_schema(responses={204: None})
    def destroy(self, request, *args, **kwargs):
        setting = self.get_object()
        account_setting_reset(account=request.user.account, key=setting.key)
        return Response(status=204)

    def history_response(self, obj):
        # A key's history spans every row it has had: a reset soft-deletes the row and the
        # next PUT creates a new one.
        rows = AccountSetting.history.filter(account_id=self.request.user.account_id, key=obj.key)
        return self.history_page(rows, AccountSetting)
