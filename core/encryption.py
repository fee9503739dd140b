"""Encrypted model fields: Fernet with a key list, after django-fernet-fields' design.

`FERNET_KEYS` is a list: the first key encrypts, every key decrypts, so keys rotate by putting a
new key first and running `manage.py rotate_encryption_keys`. Values are stored as the Fernet
token in a binary column. A value that no key decrypts raises `DecryptionError`; it is never
returned as ciphertext. Encrypted columns cannot be filtered on; exact-match search goes through
a keyed blind index (`BlindIndexField`), an HMAC of the normalised value.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import unicodedata
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models
from django.utils.encoding import force_bytes


class DecryptionError(Exception):
    """Stored ciphertext that no key in FERNET_KEYS can decrypt."""


@functools.lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet, tuple[bytes, ...]]:
    if not keys:
        raise ImproperlyConfigured("FERNET_KEYS is empty: at least one key is required.")
    fernets = [Fernet(key.encode()) for key in keys]
    index_keys = tuple(_derive_index_key(key) for key in keys)
    return MultiFernet(fernets), fernets[0], index_keys


def _derive_index_key(fernet_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"blind-index:v1").derive(
        force_bytes(fernet_key)
    )


def _keys() -> tuple[str, ...]:
    return tuple(settings.FERNET_KEYS)


def encrypt(plaintext: bytes) -> bytes:
    return _fernets(_keys())[0].encrypt(plaintext)


def decrypt(token: bytes) -> bytes:
    try:
        return _fernets(_keys())[0].decrypt(token)
    except InvalidToken as exc:
        raise DecryptionError(
            "stored value cannot be decrypted with any key in FERNET_KEYS"
        ) from exc


def is_current(token: bytes) -> bool:
    """True when the token is encrypted under the first (current) key."""
    try:
        _fernets(_keys())[1].decrypt(token)
    except InvalidToken:
        return False
    return True


def reencrypt(token: bytes) -> bytes:
    """The same plaintext encrypted under the first key (raises DecryptionError)."""
    try:
        return _fernets(_keys())[0].rotate(token)
    except InvalidToken as exc:
        raise DecryptionError(
            "stored value cannot be decrypted with any key in FERNET_KEYS"
        ) from exc


def normalize_identifier(value: str) -> str:
    """Tax ids and similar: compare without spaces, dashes or case."""
    value = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in value if ch.isalnum()).upper()


def blind_index(value: str | None, *, key_index: int = 0) -> str | None:
    if value is None or value == "":
        return None
    key = _fernets(_keys())[2][key_index]
    return hmac.new(key, normalize_identifier(value).encode(), hashlib.sha256).hexdigest()


def blind_index_candidates(value: str) -> list[str]:
    """Index values under every key, so lookups still match rows not yet rotated."""
    return [blind_index(value, key_index=i) for i in range(len(_keys()))]


class EncryptedFieldMixin:
    """Stores `str(value)` as a Fernet token in a binary column."""

    _allowed_lookups = ("isnull",)

    def __init__(self, *args, **kwargs):
        for option in ("primary_key", "unique", "db_index"):
            if kwargs.get(option):
                raise ImproperlyConfigured(f"{self.__class__.__name__} does not support {option}")
        super().__init__(*args, **kwargs)

    def get_internal_type(self) -> str:
        return "BinaryField"

    def serialize_plain(self, value) -> str:
        return str(value)

    def get_db_prep_save(self, value, connection):
        value = self.get_prep_value(value)
        if value is None or value == "" and self.null:
            return None
        token = encrypt(self.serialize_plain(value).encode("utf-8"))
        return connection.Database.Binary(token)

    def get_db_prep_value(self, value, connection, prepared=False):
        # Only reached for lookups; saves use get_db_prep_save.
        if value is None:
            return None
        raise FieldError(f"{self.__class__.__name__} cannot be compared in a query")

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        if isinstance(value, memoryview):
            value = value.tobytes()
        return self.to_python(decrypt(bytes(value)).decode("utf-8"))

    def get_lookup(self, lookup_name):
        if lookup_name not in self._allowed_lookups:
            raise FieldError(
                f"{self.__class__.__name__} does not support '{lookup_name}' lookups; "
                "search through a blind index instead"
            )
        return super().get_lookup(lookup_name)


class EncryptedCharField(EncryptedFieldMixin, models.CharField):
    pass


class EncryptedTextField(EncryptedFieldMixin, models.TextField):
    pass


class EncryptedDateField(EncryptedFieldMixin, models.DateField):
    def serialize_plain(self, value) -> str:
        if isinstance(value, datetime.date):
            return value.isoformat()
        return str(value)


class BlindIndexField(models.CharField):
    """HMAC-SHA256 of another field's normalised value, kept in step on every save."""

    def __init__(self, *args, source: str, **kwargs):
        self.source = source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = blind_index(getattr(model_instance, self.source))
        setattr(model_instance, self.attname, value)
        return value


def blind_index_filter(field_name: str, value: str) -> dict[str, list[str]]:
    """Keyword arguments for an exact-match lookup through a blind index."""
    return {f"{field_name}__in": blind_index_candidates(value)}


def encrypted_fields(model) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedFieldMixin)]


def blind_index_fields(model) -> list[BlindIndexField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, BlindIndexField)]


Normalizer = Callable[[str], str]
