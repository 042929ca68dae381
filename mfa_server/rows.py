"""Single-table reads by equality and single-row inserts for the request hot path, without the ORM's compiler.

A ``QuerySet.get`` spends most of its time building and compiling SQL that never changes (about 0.5 ms
per read here, 1 ms with two ``select_related`` joins, against 0.1-0.3 ms for the row itself). These
helpers keep one SQL text per (model, columns), run it on a cursor, and build model instances with
``Model.from_db`` after passing each value through the converters the ORM would apply (the backend's
and the field's, e.g. SQLite's datetimes, JSON, UUIDs). Two joins are here (a row with the row its foreign
key points to; a row with its matching children); related configuration usually comes from
``mfa_server.config_cache`` instead. ``value_to_db`` / ``value_from_db`` serve SQL written elsewhere.
Inserts prepare every value through its field as ``Model.save`` does, but send no model signals.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import Field, Model
from django.db.models.expressions import Col
from django.db.models.fields import AutoFieldMixin


def row_get[M: Model](model: type[M], **equals: Any) -> M | None:
    """The row whose columns equal ``equals`` (a unique key), or None."""
    rows = rows_filter(model, **equals)
    return rows[0] if rows else None


def row_get_owned[M: Model](model: type[M], owner: str, owner_id: Any, **key: Any) -> M | None:
    """``row_get`` by the unique ``key``, or None when the row's ``owner`` column (an attname such as
    ``subscriber_id``) is not ``owner_id``: another owner's row does not exist for the caller.

    The owner is compared here, not in the WHERE clause, so that PostgreSQL has one index to use. With
    both columns there, the generic plan of the prepared statement weighs the owner's foreign-key index
    against the primary key; while the statistics say the owner has a row or two, the costs tie and it may
    take the owner's index, then walks all of that owner's rows on every call until the next ANALYZE.
    """
    row = row_get(model, **key)
    return row if row is not None and getattr(row, owner) == owner_id else None


def rows_filter[M: Model](model: type[M], **equals: Any) -> list[M]:
    """Every row whose columns equal ``equals``, in primary-key order.

    Keys are ``pk``, field names or attnames (``subscriber_id``); values are plain values the ORM would
    accept for them (not None: ``= NULL`` matches nothing; not model instances: pass the key). The
    ``default`` database only.
    """
    fields, sql = _select(model, tuple(equals))
    params = [field.get_db_prep_value(value, connection) for field, value in zip(fields, equals.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    attnames, converters = _row_shape(model)
    return [model.from_db(connection.alias, attnames, _converted(row, converters)) for row in rows]


def row_get_with[M: Model](model: type[M], relation: str, **equals: Any) -> M | None:
    """``row_get`` with the row its foreign key ``relation`` (not null) points to, attached, in one joined read."""
    instance, _beside = _row_get_with(model, relation, None, None, equals)
    return instance


def row_get_with_beside[M: Model, B: Model](
    model: type[M], relation: str, beside: type[B], beside_pk: Any, **equals: Any
) -> tuple[M | None, B | None]:
    """``row_get_with``, and in the same read the ``beside`` row whose primary key is ``beside_pk`` (None when
    there is none): a LEFT JOIN on that key alone, so one round trip serves two lookups by key. The two rows
    need not be related: the caller checks what ties them. (None, None) when there is no ``model`` row."""
    return _row_get_with(model, relation, beside, beside_pk, equals)


def _row_get_with[M: Model](
    model: type[M], relation: str, beside: type[Model] | None, beside_pk: Any, equals: dict[str, Any]
) -> tuple[M | None, Any]:
    fields, sql = _select_with(model, relation, tuple(equals), beside)
    params = [] if beside is None else [value_to_db(beside._meta.pk, beside_pk)]
    params += [field.get_db_prep_value(value, connection) for field, value in zip(fields, equals.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None, None
    parent_model = model._meta.get_field(relation).related_model
    instance, end = _instance_at(model, row, 0)
    parent, end = _instance_at(parent_model, row, end)
    setattr(instance, relation, parent)
    return instance, None if beside is None else _joined_at(beside, row, end)


def _instance_at[M: Model](model: type[M], row: tuple[Any, ...], start: int) -> tuple[M, int]:
    """The ``model`` instance whose columns start at ``start`` in a joined ``row``, and where the next begin."""
    attnames, converters = _row_shape(model)
    end = start + len(attnames)
    return model.from_db(connection.alias, attnames, _converted(row[start:end], converters)), end


def _joined_at[M: Model](model: type[M], row: tuple[Any, ...], start: int) -> M | None:
    """``_instance_at`` for a LEFT JOINed table: None when its primary key is NULL (the join found no row)."""
    if row[start + model._meta.concrete_fields.index(model._meta.pk)] is None:
        return None
    return _instance_at(model, row, start)[0]


def row_get_with_children[M: Model, C: Model](
    model: type[M], children: type[C], link: str, child_equals: dict[str, Any], **equals: Any
) -> tuple[M | None, list[C]]:
    """``row_get`` (``equals`` a unique key) and, in the same read (a LEFT JOIN), the ``children`` rows whose
    foreign key ``link`` points to it and whose columns equal ``child_equals``, in primary-key order, each with
    the row attached as ``link``. (None, []) when there is no such row."""
    parent_fields, child_fields, sql = _select_with_children(model, children, link, tuple(child_equals), tuple(equals))
    params = [value_to_db(field, value) for field, value in zip(child_fields, child_equals.values(), strict=True)]
    params += [value_to_db(field, value) for field, value in zip(parent_fields, equals.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return None, []
    parent, split = _instance_at(model, rows[0], 0)
    found = [child for row in rows if (child := _joined_at(children, row, split)) is not None]
    for child in found:
        setattr(child, link, parent)
    return parent, found


def _converted(row: tuple[Any, ...], converters: list[tuple[int, list[Any], Col]]) -> list[Any]:
    values = list(row)
    for index, functions, column in converters:
        for convert in functions:
            values[index] = convert(values[index], column, connection)
    return values


@cache
def _select(model: type[Model], names: tuple[str, ...]) -> tuple[list[Field], str]:
    meta, quote = model._meta, connection.ops.quote_name
    fields = [meta.pk if name == "pk" else meta.get_field(name) for name in names]
    where = " AND ".join(f"{quote(field.column)} = %s" for field in fields)
    columns = ", ".join(quote(field.column) for field in meta.concrete_fields)
    return fields, f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {where} ORDER BY {quote(meta.pk.column)}"  # noqa: S608


@cache
def _select_with(
    model: type[Model], relation: str, names: tuple[str, ...], beside: type[Model] | None = None
) -> tuple[list[Field], str]:
    meta, quote = model._meta, connection.ops.quote_name
    foreign_key = meta.get_field(relation)
    parent_meta = foreign_key.related_model._meta
    fields = [meta.pk if name == "pk" else meta.get_field(name) for name in names]
    columns = [f"c.{quote(field.column)}" for field in meta.concrete_fields]
    columns += [f"p.{quote(field.column)}" for field in parent_meta.concrete_fields]
    beside_join = ""
    if beside is not None:
        columns += [f"b.{quote(field.column)}" for field in beside._meta.concrete_fields]
        beside_join = f" LEFT JOIN {quote(beside._meta.db_table)} b ON b.{quote(beside._meta.pk.column)} = %s"
    where = " AND ".join(f"c.{quote(field.column)} = %s" for field in fields)
    join = f"p.{quote(foreign_key.target_field.column)} = c.{quote(foreign_key.column)}"
    return fields, (
        f"SELECT {', '.join(columns)} FROM {quote(meta.db_table)} c "  # noqa: S608 (names from the models)
        f"JOIN {quote(parent_meta.db_table)} p ON {join}{beside_join} WHERE {where}"
    )


@cache
def _select_with_children(
    model: type[Model], children: type[Model], link: str, child_names: tuple[str, ...], names: tuple[str, ...]
) -> tuple[list[Field], list[Field], str]:
    meta, child_meta, quote = model._meta, children._meta, connection.ops.quote_name
    foreign_key = child_meta.get_field(link)
    fields = [meta.pk if name == "pk" else meta.get_field(name) for name in names]
    child_fields = [child_meta.get_field(name) for name in child_names]
    columns = [f"p.{quote(field.column)}" for field in meta.concrete_fields]
    columns += [f"c.{quote(field.column)}" for field in child_meta.concrete_fields]
    on = " AND ".join(
        [f"c.{quote(foreign_key.column)} = p.{quote(foreign_key.target_field.column)}"]
        + [f"c.{quote(field.column)} = %s" for field in child_fields]
    )
    where = " AND ".join(f"p.{quote(field.column)} = %s" for field in fields)
    return (
        fields,
        child_fields,
        (
            f"SELECT {', '.join(columns)} FROM {quote(meta.db_table)} p "  # noqa: S608 (names from the models)
            f"LEFT JOIN {quote(child_meta.db_table)} c ON {on} WHERE {where} ORDER BY c.{quote(child_meta.pk.column)}"
        ),
    )


@cache
def _row_shape(model: type[Model]) -> tuple[list[str], list[tuple[int, list[Any], Col]]]:
    """The selected columns' attnames, and per column that needs them the converters the ORM's compiler applies."""
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        column, functions = _field_converters(field)
        if functions:
            converters.append((index, functions, column))
    return [field.attname for field in fields], converters


@cache
def _field_converters(field: Field) -> tuple[Col, list[Any]]:
    column = field.get_col(field.model._meta.db_table)
    return column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)


def sql_names(model: type[Model]) -> tuple[str, Callable[[str], str]]:
    """For hand-written SQL: the model's quoted table name, and a function giving a field's quoted column."""
    meta, quote = model._meta, connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    return quote(meta.db_table), column


def value_to_db(field: Field, value: Any) -> Any:
    """``value`` as a query parameter for ``field``'s column (for hand-written SQL)."""
    return field.get_db_prep_value(value, connection)


def value_from_db(field: Field, value: Any) -> Any:
    """A value read from ``field``'s column, converted as the ORM would (for hand-written SQL)."""
    column, functions = _field_converters(field)
    for convert in functions:
        value = convert(value, column, connection)
    return value


def row_insert(instance: Model) -> None:
    """INSERT ``instance`` as one new row. An automatic primary key is always left to the database (a
    preset one is ignored) and stays unset on ``instance``: use this for rows nobody refers to by id right
    away, or for models whose key is not automatic (a UUID set by the caller)."""
    _fields, sql = _insert(type(instance))
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:  # as Model.save does
        cursor.execute(sql, _insert_params(instance))
    _inserted(instance)


def rows_insert_together(*instances: Model) -> None:
    """``row_insert`` each instance, all or none.

    On PostgreSQL outside a transaction this is one statement (data-modifying WITH clauses run in it,
    atomically), which spares the BEGIN and COMMIT round trips; otherwise, one transaction (a savepoint
    inside the caller's).
    """
    if connection.vendor != "postgresql" or not connection.get_autocommit():
        with transaction.atomic():
            for instance in instances:
                row_insert(instance)
        return
    sql = _insert_together(tuple(type(instance) for instance in instances))
    with connection.cursor() as cursor:
        cursor.execute(sql, [param for instance in instances for param in _insert_params(instance)])
    for instance in instances:
        _inserted(instance)


def row_insert_from(instance: Model, source: str) -> tuple[str, list[Any]]:
    """SQL and parameters that INSERT ``instance`` once for each row of ``source`` (the name of an earlier
    WITH clause in the same statement): nothing when it returned no row. Same values as ``row_insert``."""
    return _insert_from(type(instance), source), _insert_params(instance)


def _insert_params(instance: Model) -> list[Any]:
    fields, _sql = _insert(type(instance))
    return [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]


def _inserted(instance: Model) -> None:
    instance._state.adding, instance._state.db = False, connection.alias


@cache
def _insert_together(models: tuple[type[Model], ...]) -> str:
    *first, last = (_insert(model)[1] for model in models)
    clauses = ", ".join(f"insert_{number} AS ({sql})" for number, sql in enumerate(first))
    return f"WITH {clauses} {last}" if clauses else last


@cache
def _insert(model: type[Model]) -> tuple[list[Field], str]:
    fields, head, values = _insert_parts(model)
    return fields, f"{head} VALUES ({values})"


@cache
def _insert_from(model: type[Model], source: str) -> str:
    _fields, head, values = _insert_parts(model)
    return f"{head} SELECT {values} FROM {source}"  # noqa: S608 (names from the models and the caller's SQL)


def _insert_parts(model: type[Model]) -> tuple[list[Field], str, str]:
    """The inserted fields (all but an automatic key), ``INSERT INTO table (columns)``, and their placeholders."""
    meta, quote = model._meta, connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if not isinstance(field, AutoFieldMixin)]
    columns = ", ".join(quote(field.column) for field in fields)
    return fields, f"INSERT INTO {quote(meta.db_table)} ({columns})", ", ".join(["%s"] * len(fields))  # noqa: S608
