"""Re-encrypt every encrypted column under the first key of FERNET_KEYS.

Works table by table (history tables included) in primary-key order, one short transaction per
batch. Rows already under the first key are skipped, so an interrupted run is resumed by running
it again. Each row is updated only if its ciphertext is still the one that was read, so a
concurrent write by the application is never overwritten with older data.

Rotation changes ciphertext, not values, so it writes no history rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.db import connection, transaction

from core.encryption import (
    DecryptionError,
    blind_index,
    blind_index_fields,
    decrypt,
    encrypted_fields,
    is_current,
    reencrypt,
)


@dataclass
class RotationStats:
    label: str
    scanned: int = 0
    rotated: int = 0


def models_with_encrypted_columns() -> list:
    return [
        model
        for model in apps.get_models()
        if not model._meta.proxy
        and model._meta.managed
        and (encrypted_fields(model) or blind_index_fields(model))
    ]


def _raw(value) -> bytes | None:
    if value is None:
        return None
    return bytes(value)


def rotate_model(
    model,
    *,
    batch_size: int = 1000,
    dry_run: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> RotationStats:
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    pk = qn(model._meta.pk.column)
    enc = encrypted_fields(model)
    indexes = blind_index_fields(model)
    by_name = {f.name: f for f in enc}
    columns = [f.column for f in enc] + [f.column for f in indexes]
    select = (
        f"SELECT {pk}, {', '.join(qn(c) for c in columns)} FROM {table} "  # noqa: S608
        f"WHERE {pk} > %s ORDER BY {pk} LIMIT %s"
    )
    stats = RotationStats(label=model._meta.label)
    last_pk = -1
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(select, [last_pk, batch_size])
            rows = cursor.fetchall()
            if not rows:
                break
            for row in rows:
                row_pk, values = row[0], row[1:]
                old = {f.column: _raw(v) for f, v in zip(enc, values, strict=False)}
                new: dict[str, object] = {}
                try:
                    for column, token in old.items():
                        if token is not None and not is_current(token):
                            new[column] = reencrypt(token)
                    for offset, field in enumerate(indexes):
                        source_token = old[by_name[field.source].column]
                        plain = (
                            decrypt(source_token).decode("utf-8")
                            if source_token is not None
                            else None
                        )
                        wanted = blind_index(plain)
                        if values[len(enc) + offset] != wanted:
                            new[field.column] = wanted
                except DecryptionError as exc:
                    raise DecryptionError(
                        f"{model._meta.db_table} row {row_pk}: {exc}. Is a key missing from "
                        "FERNET_KEYS?"
                    ) from exc
                stats.scanned += 1
                if not new:
                    continue
                stats.rotated += 1
                if dry_run:
                    continue
                assignments = ", ".join(f"{qn(c)} = %s" for c in new)
                guards = [c for c, token in old.items() if token is not None]
                where = " AND ".join([f"{pk} = %s"] + [f"{qn(c)} = %s" for c in guards])
                cursor.execute(
                    f"UPDATE {table} SET {assignments} WHERE {where}",  # noqa: S608
                    [*new.values(), row_pk, *(old[c] for c in guards)],
                )
            last_pk = rows[-1][0]
        if on_batch:
            on_batch(len(rows))
    return stats


def count_rows(model) -> int:
    return model._base_manager.count()
