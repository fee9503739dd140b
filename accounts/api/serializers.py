from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Account, Address, Role, User
from accounts.selectors import account_list, user_list

# --- Account ---------------------------------------------------------------------------------


class AccountSerializer(serializers.ModelSerializer):
    tax_id_last_four = serializers.CharField(
        read_only=True, help_text="The tax id is write-only; only its last four are shown."
    )

    class Meta:
        model = Account
        fields = (
            "token",
            "name",
            "status",
            "balance",
            "currency",
            "lithic_account_token",
            "tax_id_last_four",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class AccountUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    tax_id = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Stored encrypted; never returned (see `tax_id_last_four`).",
    )


# --- Users -----------------------------------------------------------------------------------


class UserSerializer(serializers.ModelSerializer):
    phone_last_four = serializers.CharField(
        read_only=True, help_text="The phone number is write-only; only its last four are shown."
    )

    class Meta:
        model = User
        fields = (
            "token",
            "email",
            "role",
            "first_name",
            "last_name",
            "phone_last_four",
            "is_active",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


_PII_WRITE_ONLY = "Stored encrypted and never returned."


class UserCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(
        choices=Role.choices,
        default=Role.USER,
        help_text="Only an owner may create an owner.",
    )
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    phone = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text=_PII_WRITE_ONLY
    )
    date_of_birth = serializers.DateField(
        required=False, allow_null=True, help_text=_PII_WRITE_ONLY
    )


class UserUpdateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254, required=False)
    role = serializers.ChoiceField(
        choices=Role.choices,
        required=False,
        help_text=(
            "Only an owner may grant or remove the owner role; the last active owner of the "
            "account cannot be demoted."
        ),
    )
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    phone = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text=_PII_WRITE_ONLY
    )
    date_of_birth = serializers.DateField(
        required=False, allow_null=True, help_text=_PII_WRITE_ONLY
    )
    is_active = serializers.BooleanField(
        required=False, help_text="Only an owner may deactivate an owner."
    )


# --- Addresses -------------------------------------------------------------------------------

OWNER_TYPES = (("account", "The account"), ("user", "A user of the account"))
COUNTRY = {"regex": r"^[A-Z]{2}$", "max_length": 2, "help_text": "ISO 3166-1 alpha-2"}


class AddressOwnerSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=OWNER_TYPES)
    token = serializers.UUIDField(help_text="Token of the account or of the user")


class AddressOwnerInputSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=OWNER_TYPES)
    token = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The user's token (required for a user); may be omitted for the account.",
    )

    def validate(self, attrs):
        actor = self.context["request"].user
        token = attrs.get("token")
        if attrs["type"] == "user":
            if token is None:
                raise serializers.ValidationError(
                    {"token": "A user owner needs the user's token."}, code="required"
                )
            owner = user_list(actor=actor).filter(token=token).first()
        else:
            owner = account_list(actor=actor).first()
            if token is not None and owner is not None and owner.token != token:
                owner = None
        if owner is None:
            raise serializers.ValidationError(
                {"token": f"No {attrs['type']} with token {token}."}, code="does_not_exist"
            )
        return owner


def address_owner(address: Address) -> dict:
    owner = address.owner
    return {"type": "user" if isinstance(owner, User) else "account", "token": owner.token}


class AddressSerializer(serializers.ModelSerializer):
    owner = serializers.SerializerMethodField()

    class Meta:
        model = Address
        fields = (
            "token",
            "owner",
            "address_type",
            "is_primary",
            "line1",
            "line2",
            "city",
            "region",
            "postal_code",
            "country",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(AddressOwnerSerializer)
    def get_owner(self, address: Address) -> dict:
        return AddressOwnerSerializer(address_owner(address)).data


class AddressCreateSerializer(serializers.Serializer):
    owner = AddressOwnerInputSerializer(
        help_text='`{"type": "account"}` or `{"type": "user", "token": "<user token>"}`'
    )
    address_type = serializers.ChoiceField(choices=Address.Type.choices)
    is_primary = serializers.BooleanField(
        default=False,
        help_text="A new primary address demotes the owner's current primary of that type.",
    )
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20)
    country = serializers.RegexField(**COUNTRY, default="US")


class AddressUpdateSerializer(serializers.Serializer):
    address_type = serializers.ChoiceField(choices=Address.Type.choices, required=False)
    is_primary = serializers.BooleanField(
        required=False,
        help_text="Making an address primary demotes the owner's current primary of its type.",
    )
    line1 = serializers.CharField(max_length=200, required=False)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False)
    country = serializers.RegexField(**COUNTRY, required=False)


# --- Account settings ------------------------------------------------------------------------

SETTING_VALUE_SCHEMA = {
    "oneOf": [{"type": "boolean"}, {"type": "integer"}, {"type": "string"}],
    "description": "Typed by the setting: boolean, integer, or string (decimals are strings).",
}


SETTING_TYPES = {bool: "boolean", int: "integer", Decimal: "decimal", str: "string"}
SETTING_TYPE_CHOICES = sorted(SETTING_TYPES.values())


def json_value(value):
    """A setting value as JSON carries it: decimals as strings, never floats."""
    return str(value) if isinstance(value, Decimal) else value


@extend_schema_field(SETTING_VALUE_SCHEMA)
class SettingValueField(serializers.JSONField):
    def to_representation(self, value):
        return json_value(value)


class SettingSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = SettingValueField()
    default = SettingValueField(source="spec.default")
    is_default = serializers.BooleanField(help_text="True when the account has not set it.")
    type = serializers.SerializerMethodField()
    description = serializers.CharField(source="spec.description")
    updated_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.ChoiceField(choices=SETTING_TYPE_CHOICES))
    def get_type(self, setting) -> str:
        return SETTING_TYPES[setting.spec.type]


class SettingUpdateSerializer(serializers.Serializer):
    value = SettingValueField(help_text="Must have the setting's type; decimals as strings.")
