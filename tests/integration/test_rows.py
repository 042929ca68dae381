"""mfa_server.rows (hand-written SQL on a cursor) gives back exactly what the ORM gives for the same rows.

Each comparison is field by field over the concrete fields, on the value and on its type (a UUID read back as a
str, or a naive datetime, would be equal to nothing the ORM returns but is easy to miss otherwise). Runs on
whatever backend the suite runs on: SQLite (text datetimes, hex UUIDs, JSON as text) and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Model

from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from audit.services import audit_event
from devices.models import Device
from mfa_server.rows import (
    row_get,
    row_get_with,
    row_get_with_beside,
    row_get_with_children,
    row_insert,
    rows_filter,
    rows_insert_together,
    value_from_db,
    value_to_db,
)
from tenants.models import Subscriber
from tenants.services import subscriber_get_or_create
from tests.conftest import make_device

pytestmark = pytest.mark.django_db

# Microseconds, and an instant given in a non-UTC zone: both must come back as the same aware instant.
CREATED = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=ZoneInfo("Europe/Paris"))
UNICODE = "Zürich ✓ 日本語 — \u00e9\u0301 \U0001f510"


def fields_of(obj: Model) -> dict[str, tuple[type, Any]]:
    """Every concrete field's (type, value), by attname."""
    values = {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}
    return {attname: (type(value), value) for attname, value in values.items()}


def approval(subscriber: Subscriber, application, **fields: Any) -> ApprovalRequest:
    values = {
        "application": application,
        "subscriber": subscriber,
        "created_at": CREATED,
        "expires_at": CREATED + timedelta(seconds=60, microseconds=7),
        **fields,
    }
    return ApprovalRequest.objects.create(**values)


@pytest.fixture
def application(issued_app):
    return issued_app.application


def test_row_get__approval_requests__same_fields_as_the_orm(subscriber, application, phone):
    pending = approval(subscriber, application, ip="203.0.113.9", number="0427", display_text=UNICODE)
    decided = approval(
        subscriber,
        application,
        factor=ApprovalRequest.Factor.WEBAUTHN,
        status=ApprovalRequest.Status.FRAUD,
        status_reason="user_fraud",
        ip="2001:db8::7",
        request_digest="ab" * 32,
        decided_at=CREATED + timedelta(microseconds=1),
        decided_by_id=phone.device_id,
    )

    for created in (pending, decided):
        orm = ApprovalRequest.objects.get(pk=created.pk)
        rows = row_get(ApprovalRequest, pk=created.pk)

        assert fields_of(rows) == fields_of(orm)
        assert rows.pk == created.pk
        assert isinstance(rows.pk, uuid.UUID)
        assert rows.created_at == CREATED
        assert rows.created_at.tzinfo is not None
        assert rows._state.adding is False
        assert rows._state.db == "default"
    assert row_get(ApprovalRequest, pk=pending.pk).ip is not None
    assert row_get(ApprovalRequest, pk=pending.pk).decided_at is None  # nullable columns stay None
    assert row_get(ApprovalRequest, pk=pending.pk).request_digest is None
    # By another unique key, and by the key as the string the ORM also accepts.
    assert fields_of(row_get(ApprovalRequest, request_digest="ab" * 32)) == fields_of(
        ApprovalRequest.objects.get(request_digest="ab" * 32)
    )
    assert fields_of(row_get(ApprovalRequest, pk=str(decided.pk))) == fields_of(
        ApprovalRequest.objects.get(pk=str(decided.pk))
    )


def test_row_get__no_row__none(subscriber, application):
    approval(subscriber, application)

    assert row_get(ApprovalRequest, pk=uuid.uuid4()) is None
    assert row_get_with(Device, "subscriber", pk=10**9) is None


def test_rows_filter__in_primary_key_order__not_insertion_or_created_order(subscriber, application, bob_phone):
    # Inserted 0x80.., 0xff.., 0x00..; created 0xff.. first, then 0x00.., then 0x80..: three different orders.
    ids = [uuid.UUID(int=0x80 << 120), uuid.UUID(int=(1 << 128) - 1), uuid.UUID(int=1)]
    minutes = [3, 1, 2]
    for pk, minute in zip(ids, minutes, strict=True):
        approval(subscriber, application, id=pk, created_at=CREATED + timedelta(minutes=minute))
    other = Subscriber.objects.get(username="bob")
    approval(other, application, id=uuid.UUID(int=2))  # someone else's: not returned

    rows = rows_filter(ApprovalRequest, subscriber_id=subscriber.pk)
    orm = ApprovalRequest.objects.filter(subscriber_id=subscriber.pk).order_by("pk")

    assert [row.pk for row in rows] == sorted(ids)
    assert [fields_of(row) for row in rows] == [fields_of(row) for row in orm]
    by_name = rows_filter(ApprovalRequest, subscriber=subscriber.pk, status=ApprovalRequest.Status.PENDING)
    assert [row.pk for row in by_name] == sorted(ids)


def test_rows_filter__no_match__empty(subscriber, application):
    approval(subscriber, application)

    assert rows_filter(ApprovalRequest, subscriber_id=subscriber.pk, status=ApprovalRequest.Status.DENIED) == []
    assert rows_filter(ApprovalRequest, subscriber_id=subscriber.pk + 1000) == []


def test_row_insert__audit_event__reads_back_as_an_orm_saved_twin(tenant):
    detail = {
        "text": UNICODE,
        "nested": {"list": [1, 2.5, None, True, False, "é"], "empty": {}, "deep": {"deeper": [[], [{"k": "v"}]]}},
        "quote": 'he said "no" \\ then left',
        "none": None,
    }
    approval_id = uuid.uuid4()
    fields = {
        "tenant": None,
        "kind": "rows.test",
        "actor": f"admin:{UNICODE}",
        "subscriber_id": 2**40,
        "device_id": None,
        "approval_id": approval_id,
        "ip": "2001:0DB8:0000:0000:0000:0000:0000:0001",  # saved in its canonical form, as Model.save does
        "detail": detail,
        "created_at": CREATED,
    }
    inserted = AuditEvent(**fields)
    row_insert(inserted)
    twin = AuditEvent.objects.create(**{**fields, "kind": "orm.test"})

    assert inserted.pk is None
    assert inserted._state.adding is False
    by_rows = AuditEvent.objects.get(kind="rows.test")
    by_orm = AuditEvent.objects.get(pk=twin.pk)
    expected = {**fields_of(by_orm), "id": (int, by_rows.pk), "kind": (str, "rows.test")}
    assert fields_of(by_rows) == expected
    assert by_rows.ip == "2001:db8::1"
    assert by_rows.detail == detail
    assert by_rows.tenant_id is None
    assert by_rows.approval_id == approval_id
    assert fields_of(row_get(AuditEvent, pk=by_rows.pk)) == fields_of(by_rows)


def test_row_get_with_beside__the_row_by_key_in_the_same_read__or_none(
    subscriber, application, phone, django_assert_num_queries
):
    beside = approval(subscriber, application)
    with django_assert_num_queries(1):
        device, found = row_get_with_beside(Device, "subscriber", ApprovalRequest, beside.pk, pk=phone.device_id)
        assert device.subscriber.pk == subscriber.pk  # attached, not lazily loaded
    assert fields_of(device) == fields_of(Device.objects.get(pk=phone.device_id))
    assert fields_of(found) == fields_of(ApprovalRequest.objects.get(pk=beside.pk))

    device, missing = row_get_with_beside(Device, "subscriber", ApprovalRequest, uuid.uuid4(), pk=phone.device_id)
    assert (device.pk, missing) == (phone.device_id, None)
    assert row_get_with_beside(Device, "subscriber", ApprovalRequest, beside.pk, pk=10**9) == (None, None)


def test_row_get_with__device_and_its_subscriber__same_as_the_orm(subscriber, phone, django_assert_num_queries):
    Device.objects.filter(pk=phone.device_id).update(
        webpush_subscription={"endpoint": "https://push.example/ü", "keys": {"p256dh": "x", "auth": "y"}},
        last_seen_at=CREATED,
    )
    Subscriber.objects.filter(pk=subscriber.pk).update(display_name=UNICODE, failed_attempts=3)
    orm = Device.objects.get(pk=phone.device_id)

    rows = row_get_with(Device, "subscriber", pk=phone.device_id)

    assert fields_of(rows) == fields_of(orm)
    with django_assert_num_queries(0):  # attached, not lazily loaded
        attached = rows.subscriber
    assert fields_of(attached) == fields_of(orm.subscriber)
    assert attached._state.adding is False
    assert attached._state.db == "default"
    by_token = row_get_with(Device, "subscriber", token_hash=orm.token_hash, status=Device.Status.ACTIVE)
    assert fields_of(by_token.subscriber) == fields_of(orm.subscriber)


def test_row_get_with_children__subscriber_and_matching_devices__same_as_the_orm(
    subscriber, phone, django_assert_num_queries
):
    revoked, tablet = make_device(subscriber, "Old phone"), make_device(subscriber, "Alice tablet")
    Device.objects.filter(pk=revoked.device_id).update(status=Device.Status.REVOKED)
    make_device(subscriber_get_or_create(tenant=subscriber.tenant, username="bob"), "Bob phone")

    with django_assert_num_queries(1):
        parent, devices = row_get_with_children(
            Subscriber,
            Device,
            "subscriber",
            {"status": Device.Status.ACTIVE},
            tenant_id=subscriber.tenant_id,
            username="alice",
        )

    assert fields_of(parent) == fields_of(Subscriber.objects.get(pk=subscriber.pk))
    expected = Device.objects.filter(subscriber=subscriber, status=Device.Status.ACTIVE).order_by("pk")
    assert [d.pk for d in expected] == [phone.device_id, tablet.device_id]
    assert [fields_of(d) for d in devices] == [fields_of(d) for d in expected]
    with django_assert_num_queries(0):
        assert all(device.subscriber is parent for device in devices)


def test_row_get_with_children__no_matching_children_or_no_row(subscriber, phone):
    Device.objects.filter(pk=phone.device_id).update(status=Device.Status.REVOKED)
    active = {"status": Device.Status.ACTIVE}

    parent, devices = row_get_with_children(Subscriber, Device, "subscriber", active, pk=subscriber.pk)
    assert (fields_of(parent), devices) == (fields_of(Subscriber.objects.get(pk=subscriber.pk)), [])
    assert row_get_with_children(Subscriber, Device, "subscriber", active, pk=subscriber.pk + 1000) == (None, [])


def test_value_to_db_and_value_from_db__a_column_read_by_hand__equals_the_orm(subscriber, application):
    created = approval(subscriber, application)
    meta = ApprovalRequest._meta
    table, quote = meta.db_table, connection.ops.quote_name
    created_at, decided_at, pk = meta.get_field("created_at"), meta.get_field("decided_at"), meta.pk

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('created_at')}, {quote('decided_at')}, {quote('id')} FROM {quote(table)} "  # noqa: S608
            f"WHERE {quote('id')} = %s",
            [value_to_db(pk, created.pk)],
        )
        raw_created, raw_decided, raw_id = cursor.fetchone()
        # A datetime as a parameter matches its own row (on SQLite the text must be exactly the stored text).
        cursor.execute(
            f"SELECT {quote('id')} FROM {quote(table)} WHERE {quote('created_at')} = %s",  # noqa: S608
            [value_to_db(created_at, CREATED)],
        )
        matched = [value_from_db(pk, raw) for (raw,) in cursor.fetchall()]

    orm = ApprovalRequest.objects.get(pk=created.pk)
    assert value_from_db(created_at, raw_created) == orm.created_at == CREATED
    assert value_from_db(created_at, raw_created).tzinfo is not None
    assert value_from_db(created_at, raw_created).microsecond == orm.created_at.microsecond == 123456
    assert value_from_db(created_at, raw_created).astimezone(UTC) == orm.created_at.astimezone(UTC)
    assert value_from_db(decided_at, raw_decided) is None
    assert (type(value_from_db(pk, raw_id)), value_from_db(pk, raw_id)) == (uuid.UUID, orm.pk)
    assert matched == [orm.pk]


def test_value_to_db_and_value_from_db__json_and_ip_by_hand__equal_the_orm(tenant):
    detail = {"text": UNICODE, "nested": {"list": [1, 2.5, None, True], "empty": {}}}
    event = AuditEvent.objects.create(
        tenant=tenant, kind="by.hand", ip="2001:db8::1", detail=detail, created_at=CREATED
    )
    meta = AuditEvent._meta
    quote = connection.ops.quote_name
    detail_field, ip_field = meta.get_field("detail"), meta.get_field("ip")

    with connection.cursor() as cursor:
        # Parameters as the ORM sends them: the JSON encoded for its column, the address in canonical form.
        cursor.execute(
            f"SELECT {quote('id')}, {quote('detail')}, {quote('ip')} FROM {quote(meta.db_table)} "  # noqa: S608
            f"WHERE {quote('detail')} = %s AND {quote('ip')} = %s",
            [value_to_db(detail_field, detail), value_to_db(ip_field, "2001:0DB8:0000::0001")],
        )
        rows = cursor.fetchall()

    orm = AuditEvent.objects.get(pk=event.pk)
    assert [row[0] for row in rows] == [orm.pk]
    (_, raw_detail, raw_ip) = rows[0]
    assert value_from_db(detail_field, raw_detail) == orm.detail == detail
    assert value_from_db(ip_field, raw_ip) == orm.ip == "2001:db8::1"


def test_row_insert__fails_inside_atomic__transaction_marked_for_rollback_as_model_save(subscriber, application):
    existing = approval(subscriber, application)

    with transaction.atomic():
        duplicate = ApprovalRequest(
            id=existing.pk, application=application, subscriber=subscriber, created_at=CREATED, expires_at=CREATED
        )
        with pytest.raises(IntegrityError):
            row_insert(duplicate)
        assert transaction.get_rollback() is True
        assert duplicate._state.adding is True  # not marked as saved

    with transaction.atomic():  # the same failure through the ORM, for comparison
        with pytest.raises(IntegrityError):
            ApprovalRequest(
                id=existing.pk, application=application, subscriber=subscriber, created_at=CREATED, expires_at=CREATED
            ).save(force_insert=True)
        assert transaction.get_rollback() is True

    # The outer transaction (the test's) is still usable and holds only the first row.
    assert list(ApprovalRequest.objects.values_list("pk", flat=True)) == [existing.pk]


def together(subscriber, application, *, digest: str) -> tuple[ApprovalRequest, AuditEvent]:
    created = ApprovalRequest(
        id=uuid.uuid4(),
        application=application,
        subscriber=subscriber,
        request_digest=digest,
        created_at=CREATED,
        expires_at=CREATED,
    )
    return created, audit_event(kind="approval.created", tenant_id=subscriber.tenant_id, approval_id=created.pk)


@pytest.mark.django_db(transaction=True)
def test_rows_insert_together__outside_a_transaction__all_or_none(
    subscriber, application, django_assert_max_num_queries
):
    created, event = together(subscriber, application, digest="d1")
    with django_assert_max_num_queries(4) as captured:
        rows_insert_together(created, event)
    if connection.vendor == "postgresql":
        assert len(captured.captured_queries) == 1  # one statement: no BEGIN, no COMMIT
    assert [row._state.adding for row in (created, event)] == [False, False]
    assert ApprovalRequest.objects.filter(pk=created.pk).exists()
    assert AuditEvent.objects.filter(approval_id=created.pk).exists()

    clash, event = together(subscriber, application, digest="d1")
    with pytest.raises(IntegrityError):  # the second row breaks the unique request digest
        rows_insert_together(event, clash)
    assert not AuditEvent.objects.filter(approval_id=clash.pk).exists(), "the first row is gone too"
    assert ApprovalRequest.objects.count() == 1


def test_rows_insert_together__inside_a_transaction__a_failure_leaves_it_usable(subscriber, application):
    rows_insert_together(*together(subscriber, application, digest="d1"))
    with pytest.raises(IntegrityError):
        rows_insert_together(*together(subscriber, application, digest="d1"))

    assert ApprovalRequest.objects.count() == 1  # the caller's transaction goes on
    assert AuditEvent.objects.filter(kind="approval.created").count() == 1
