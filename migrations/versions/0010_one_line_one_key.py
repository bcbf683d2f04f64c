"""One line, one key (rules-fr.md §1): every stored number re-keyed to its canonical E.164.

Before this revision a number written "+33 + an overseas national number" was stored under a
+33 key ("+33 2 69 60 12 34" as +33269601234, Mayotte's line +262269601234): its consents,
oppositions, refusals and attempts were invisible to the same line written any other way. The
upgrade asks the application's ``classify`` for the key of every stored number that starts
"+33" (only those can change: other French keys were already the territory's) and re-keys the
ones whose canonical key differs, in ``attempts`` (callee, caller_id: counts carry over),
``consents``, ``consent_principals``, ``contracts``, ``oppositions``, ``refusals``,
``quarantines``, ``caller_ids`` (number, and its kind), ``campaign_caller_ids`` and the
caller-ID scope of ``alerts`` (a throttle in force keeps throttling the line), and in the
stored BLOCTEL versions (their chunks are rebuilt; ``total_numbers`` follows when two forms of
one line collapse into one key).

Collisions on a unique key:

* ``oppositions`` (tenant, principal, callee): the oldest opposition is kept (created_at, id);
* ``campaign_caller_ids`` (tenant, campaign, number): one row is kept;
* ``caller_ids.number``: held by one tenant, the oldest registration is kept; held by **two
  tenants**, the upgrade is refused and changes nothing (as 0008: which tenant holds the line
  is the operator's call), listing them.

Every change is kept in ``number_rekeys`` (``app.numbers.models``): table, row key, column, old
and new value, and each merged-away row as JSON. The downgrade puts the old values back where
the row still holds the new one, re-inserts the merged rows, restores the BLOCTEL chunks and
drops the table. (A row merged away whose unique key has been taken again since the upgrade
makes the downgrade fail rather than lose either row.)

Erasure tombstones are hashes of (tenant, key) and cannot be re-keyed: look-ups also try the
tombstone of the legacy +33 key (``app.registries.tombstones.tombstones``). Re-keyed attempts are hashed
with their old key by the ledger (``app.audit``), so earlier seals still verify.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from alembic import op

from app.migrate import MigrationRefused

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIDE = 'number_rekeys'
BLOCTEL = 'bloctel'
_CHUNK = 500

#: table → (primary key, re-keyed columns, unique key holding a re-keyed column or None,
#: "keep first" order of a collision)
TABLES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...] | None,
                    tuple[str, ...]], ...] = (
    ('attempts', ('id',), ('callee', 'caller_id'), None, ()),
    ('consents', ('id',), ('callee',), None, ()),
    ('consent_principals', ('consent_id', 'principal_id'), ('callee',), None, ()),
    ('contracts', ('id',), ('callee',), None, ()),
    ('oppositions', ('id',), ('callee',), ('tenant_id', 'principal_id', 'callee'),
     ('created_at', 'id')),
    ('refusals', ('id',), ('callee',), None, ()),
    ('quarantines', ('id',), ('callee',), None, ()),
    ('caller_ids', ('id',), ('number',), ('number',), ('created_at', 'id')),
    ('campaign_caller_ids', ('tenant_id', 'campaign_id', 'number'), ('number',),
     ('tenant_id', 'campaign_id', 'number'), ('tenant_id', 'campaign_id', 'number')),
    ('alerts', ('id',), ('scope',), None, ()),  # "caller_id:<E.164>": a throttle in force
)
#: what precedes the number in a column's value
PREFIX = {'scope': 'caller_id:'}


class CallerIdLineHeldTwice(MigrationRefused):
    """Two tenants registered one line under two written forms."""


def _side() -> sa.Table:
    return sa.table(
        SIDE, sa.column('seq', sa.Integer), sa.column('tenant_id', sa.String),
        sa.column('table_name', sa.String), sa.column('row_key', sa.String),
        sa.column('column_name', sa.String), sa.column('old_value', sa.Text),
        sa.column('new_value', sa.Text), sa.column('merged', sa.JSON),
    )


def _canonical(value: str | None) -> str | None:
    """The canonical key of a stored number, or None when it is already canonical (or is no
    valid number: those are left as they are). Only "+33" + 9 digits in a range an overseas
    territory may hold can change (``may_be_overseas``, a pattern match): the millions of
    metropolitan keys of a ledger are not parsed one by one."""
    from rules_fr.model import NumberKind
    from rules_fr.numbering import classify_uncached, may_be_overseas

    if value is None or len(value) != 12 or not value.startswith('+33'):
        return None
    nsn = value[3:]
    if not nsn.isdigit() or not may_be_overseas(nsn):
        return None
    info = classify_uncached(value)
    if info.kind is NumberKind.INVALID or info.e164 is None or info.e164 == value:
        return None
    return info.e164


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        raise TypeError('binary column in a merged row')
    return value


def _typed(column: sa.Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, sa.DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, sa.Date):
        return date.fromisoformat(value)
    return value


def _row_key(row: Any, pk: tuple[str, ...]) -> str:
    return str(row[pk[0]]) if len(pk) == 1 else json.dumps([row[c] for c in pk])


def _pk_values(key: str, pk: tuple[str, ...]) -> list[Any]:
    return [key] if len(pk) == 1 else json.loads(key)


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _tenant_of(name: str, row: Any, conn: sa.Connection, consents: sa.Table) -> str | None:
    if 'tenant_id' in row:
        return row['tenant_id']
    if name == 'consent_principals':
        return conn.execute(
            sa.select(consents.c.tenant_id).where(consents.c.id == row['consent_id'])
        ).scalar()
    return None


# --------------------------------------------------------------------------- upgrade


def _plan_table(conn: sa.Connection, t: sa.Table, cols: tuple[str, ...],
                unique: tuple[str, ...] | None, order: tuple[str, ...]
                ) -> tuple[list[dict[str, Any]], dict[int, dict[str, str]], list[dict[str, Any]]]:
    """(rows to change, {row index: {column: new}}, rows to merge away). Rows are streamed;
    only the ones that change are kept (whole for a table with a unique key: they may be
    merged away, and are small tables; else their key and numbers)."""
    if unique is None:
        pk = [c.name for c in t.primary_key.columns]
        shown = [*pk, *cols, *(['tenant_id'] if 'tenant_id' in t.c else [])]
        scan = sa.select(*(t.c[c] for c in dict.fromkeys(shown)))
    else:
        scan = sa.select(t)
    found = conn.execute(
        scan.where(sa.or_(*(t.c[c].like(PREFIX.get(c, '') + '+33%') for c in cols)))
        .execution_options(yield_per=10_000)
    ).mappings()
    rows: list[dict[str, Any]] = []
    changes: dict[int, dict[str, str]] = {}
    for r in found:
        new = {}
        for c in cols:
            head = PREFIX.get(c, '')
            v = r[c]
            if v is not None and v.startswith(head + '+33'):
                canonical = _canonical(v[len(head):])
                if canonical is not None:
                    new[c] = head + canonical
        if new:
            changes[len(rows)] = new
            rows.append(dict(r))
    merged: list[dict[str, Any]] = []
    if unique is None or not rows:
        return rows, changes, merged
    (col,) = [c for c in unique if c in cols]
    targets = sorted({ch[col] for ch in changes.values() if col in ch})
    existing: list[dict[str, Any]] = []
    for part in _chunks(targets):
        existing += [dict(r) for r in conn.execute(sa.select(t).where(t.c[col].in_(part)))
                     .mappings()]
    # every row that ends up under one unique key: the re-keyed ones and those already there
    groups: dict[tuple[Any, ...], list[tuple[int | None, dict[str, Any]]]] = {}
    for i, r in enumerate(rows):
        final = {**r, **changes[i]}
        groups.setdefault(tuple(final[c] for c in unique), []).append((i, r))
    for r in existing:
        key = tuple(r[c] for c in unique)
        if key in groups:
            groups[key].append((None, r))
    drop: set[int] = set()
    for key, members in groups.items():
        if len(members) < 2:
            continue
        members.sort(key=lambda m: tuple(m[1][c] for c in order))
        for i, r in members[1:]:
            merged.append({'row': r, 'into': key})
            if i is not None:
                drop.add(i)
    keep = [i for i in range(len(rows)) if i not in drop]
    return ([rows[i] for i in keep], {n: changes[i] for n, i in enumerate(keep)}, merged)


def _refuse_shared_caller_ids(merged: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    clashes: dict[str, set[str]] = {}
    everyone = [m['row'] for m in merged] + rows
    for m in merged:
        (number,) = m['into']
        clashes.setdefault(number, set())
    for r in everyone:
        c = _canonical(r['number']) or r['number']
        if c in clashes:
            clashes[c].add(r['tenant_id'])
    shared = {n: ts for n, ts in clashes.items() if len(ts) > 1}
    if not shared:
        return
    lines = [
        'migration 0010 refused: these lines are registered as caller IDs by several tenants '
        'under different written forms, and a line may be held by one tenant only (L221-17). '
        'Nothing was changed. Decide which tenant holds each line, delete the other '
        'registrations (that tenant\'s admin: DELETE /v1/caller-ids/{number}), then upgrade '
        'again:'
    ]
    for number in sorted(shared):
        forms = sorted(
            (r['tenant_id'], r['number'], str(r['created_at'])) for r in everyone
            if (_canonical(r['number']) or r['number']) == number
        )
        held = '; '.join(f'tenant {tn} as {n} (registered {at})' for tn, n, at in forms)
        lines.append(f'  {number}: {held}')
    raise CallerIdLineHeldTwice('\n'.join(lines))


def upgrade() -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    tables = {name: sa.Table(name, meta, autoload_with=conn) for name, *_ in TABLES}
    planned = {
        name: _plan_table(conn, tables[name], cols, unique, order)
        for name, _pk, cols, unique, order in TABLES
    }
    _refuse_shared_caller_ids(planned['caller_ids'][2], planned['caller_ids'][0])

    op.create_table(
        SIDE,
        sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('tenant_id', sa.String(length=40), nullable=True),
        sa.Column('table_name', sa.String(length=40), nullable=False),
        sa.Column('row_key', sa.String(length=300), nullable=False),
        sa.Column('column_name', sa.String(length=40), nullable=True),
        sa.Column('old_value', sa.Text(), nullable=True),
        sa.Column('new_value', sa.Text(), nullable=True),
        sa.Column('merged', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('seq', name=op.f('pk_number_rekeys')),
    )
    op.create_index('ix_number_rekeys_row', SIDE, ['table_name', 'row_key', 'column_name'],
                    unique=False)
    op.create_index('ix_number_rekeys_tenant_new', SIDE, ['tenant_id', 'new_value'],
                    unique=False)
    side = _side()
    consents = tables['consents']

    for name, pk, cols, unique, _order in TABLES:
        t = tables[name]
        rows, changes, merged = planned[name]
        log: list[dict[str, Any]] = []
        for m in merged:  # merged-away rows go first: the kept row takes their key
            r = m['row']
            into = dict(zip(unique or (), m['into'], strict=True))
            new_value = next(v for c, v in into.items() if c in cols)
            log.append({'tenant_id': _tenant_of(name, r, conn, consents), 'table_name': name,
                        'row_key': _row_key(r, pk), 'column_name': None, 'old_value': None,
                        'new_value': new_value,
                        'merged': {c: _plain(v) for c, v in r.items()}})
            conn.execute(sa.delete(t).where(*(t.c[c] == r[c] for c in pk)))
        updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for i, r in enumerate(rows):
            new = dict(changes[i])
            if name == 'caller_ids':
                from rules_fr.numbering import classify_uncached

                kind = classify_uncached(new['number']).kind.value
                if kind != r['kind']:
                    new['kind'] = kind
            tenant = _tenant_of(name, r, conn, consents)
            for c, v in new.items():
                log.append({'tenant_id': tenant, 'table_name': name,
                            'row_key': _row_key(r, pk), 'column_name': c,
                            'old_value': r[c], 'new_value': v, 'merged': None})
            updates.setdefault(tuple(sorted(new)), []).append(
                {**{f'k_{c}': r[c] for c in pk}, **{f'v_{c}': v for c, v in new.items()}})
        for changed, params in updates.items():  # one executemany per set of columns
            statement = sa.update(t).where(*(t.c[c] == sa.bindparam(f'k_{c}') for c in pk)
                                           ).values({c: sa.bindparam(f'v_{c}') for c in changed})
            for part in _chunks(params):
                conn.execute(statement, part)
        for part in _chunks(log):
            conn.execute(sa.insert(side), part)

    _rekey_bloctel(conn, side)


# --------------------------------------------------------------------------- BLOCTEL


def _bloctel_tables(conn: sa.Connection) -> tuple[sa.Table, sa.Table]:
    meta = sa.MetaData()
    return (sa.Table('bloctel_versions', meta, autoload_with=conn),
            sa.Table('bloctel_chunks', meta, autoload_with=conn))


def _version_keys(conn: sa.Connection, chunks: sa.Table, version: int) -> np.ndarray:
    from bloctel.index import Chunk, Index, decode

    rows = conn.execute(
        sa.select(chunks.c.bucket, chunks.c.count, chunks.c.first, chunks.c.data)
        .where(chunks.c.version == version).order_by(chunks.c.seq)
    )
    buckets = decode(Chunk(r.bucket, r.count, r.first, bytes(r.data)) for r in rows)
    return Index(buckets).keys()


def _write_version(conn: sa.Connection, versions: sa.Table, chunks: sa.Table, version: int,
                   keys: np.ndarray) -> None:
    from bloctel.index import Index

    index = Index.from_keys(keys)
    conn.execute(sa.delete(chunks).where(chunks.c.version == version))
    rows = [{'version': version, 'seq': seq, 'bucket': c.bucket, 'count': c.count,
             'first': c.first, 'data': c.data} for seq, c in enumerate(index.encode())]
    for part in _chunks(rows):
        conn.execute(sa.insert(chunks), part)
    conn.execute(sa.update(versions).where(versions.c.version == version)
                 .values(total_numbers=index.size))


def _rekey_bloctel(conn: sa.Connection, side: sa.Table) -> None:
    from bloctel.index import sorted_unique
    from bloctel.plan import canonical_keys

    versions, chunks = _bloctel_tables(conn)
    plus33 = ((33 * 10**9) >> 32, (34 * 10**9 - 1) >> 32)  # the buckets of +33 keys
    stored = conn.execute(sa.select(chunks.c.version).distinct()
                          .where(chunks.c.bucket.between(*plus33))).scalars().all()
    for version in sorted(stored):
        keys = _version_keys(conn, chunks, version)
        new = canonical_keys(keys)
        if (new == keys).all():
            continue
        fresh = sorted_unique(new)
        removed = np.setdiff1d(keys, fresh, assume_unique=True)
        added = np.setdiff1d(fresh, keys, assume_unique=True)
        total = conn.execute(sa.select(versions.c.total_numbers)
                             .where(versions.c.version == version)).scalar()
        log = [{'table_name': BLOCTEL, 'row_key': str(version), 'column_name': 'total_numbers',
                'old_value': str(total), 'new_value': str(len(fresh))}]
        log += [{'table_name': BLOCTEL, 'row_key': str(version), 'column_name': 'removed',
                 'old_value': str(k), 'new_value': None} for k in removed.tolist()]
        log += [{'table_name': BLOCTEL, 'row_key': str(version), 'column_name': 'added',
                 'old_value': None, 'new_value': str(k)} for k in added.tolist()]
        for part in _chunks(log):
            conn.execute(sa.insert(side), [{'tenant_id': None, 'merged': None, **r}
                                           for r in part])
        _write_version(conn, versions, chunks, version, fresh)


def _restore_bloctel(conn: sa.Connection, side_rows: list[Any]) -> None:
    from bloctel.index import sorted_unique

    by_version: dict[int, dict[str, list[Any]]] = {}
    for r in side_rows:
        by_version.setdefault(int(r.row_key), {}).setdefault(r.column_name, []).append(r)
    if not by_version:
        return
    versions, chunks = _bloctel_tables(conn)
    for version, parts in sorted(by_version.items()):
        keys = _version_keys(conn, chunks, version)
        if not len(keys):
            continue  # pruned since the upgrade
        added = np.array([int(r.new_value) for r in parts.get('added', [])], dtype=np.int64)
        removed = np.array([int(r.old_value) for r in parts.get('removed', [])], dtype=np.int64)
        back = sorted_unique(np.concatenate([keys[~np.isin(keys, added)], removed]))
        _write_version(conn, versions, chunks, version, back)
        total = parts.get('total_numbers')
        if total:
            conn.execute(sa.update(versions).where(versions.c.version == version)
                         .values(total_numbers=int(total[0].old_value)))


# --------------------------------------------------------------------------- downgrade


def downgrade() -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    tables = {name: sa.Table(name, meta, autoload_with=conn) for name, *_ in TABLES}
    specs = {name: pk for name, pk, *_ in TABLES}
    side = sa.Table(SIDE, meta, autoload_with=conn)
    log = conn.execute(sa.select(side).order_by(side.c.seq.desc())).all()
    # values first (a kept row gives its key back), then the merged rows come back
    for r in log:
        if r.table_name == BLOCTEL or r.column_name is None:
            continue
        t, pk = tables[r.table_name], specs[r.table_name]
        where = [
            t.c[c] == (r.new_value if c == r.column_name else v)
            for c, v in zip(pk, _pk_values(r.row_key, pk), strict=True)
        ]
        conn.execute(sa.update(t).where(*where, t.c[r.column_name] == r.new_value)
                     .values({r.column_name: r.old_value}))
    for r in reversed(log):
        if r.table_name == BLOCTEL or r.column_name is not None:
            continue
        t = tables[r.table_name]
        merged = r.merged if isinstance(r.merged, dict) else json.loads(r.merged)
        conn.execute(sa.insert(t).values({c: _typed(t.c[c], v) for c, v in merged.items()}))
    _restore_bloctel(conn, [r for r in log if r.table_name == BLOCTEL])
    op.drop_index('ix_number_rekeys_tenant_new', table_name=SIDE)
    op.drop_index('ix_number_rekeys_row', table_name=SIDE)
    op.drop_table(SIDE)
