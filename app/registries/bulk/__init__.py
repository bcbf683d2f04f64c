"""Bulk import of consents, contracts and oppositions from a CSV file, streamed.

**File.** UTF-8 (BOM or not; CP-1252 accepted), UTF-16, CRLF or LF, gzip or not (all detected by
``bloctel.parse.Reader``, which also hashes the bytes as uploaded). The first non-blank line is
a header; the delimiter is ``;``, ``,`` or a tab, whichever the header holds most of. Column
names are matched without case, accents, spaces or hyphens (``HEADERS``), e.g. ``Numéro`` or
``phone`` for the number; unknown columns are ignored and listed in the answer. Numbers are
national (``06 12 34 56 78``, ``0692…`` overseas) or E.164 (``+33…``, ``0033…``).

**Fields** (``-`` = optional, with its default):

* consents: callee, given_at (ISO 8601; without an offset: Europe/Paris time; or
  ``DD/MM/YYYY[ HH:MM[:SS]]``, Paris), - scope (``canvassing``), - channel (``import``),
  - evidence (a JSON object, or text stored as ``{"text": …}``; ``{}`` when empty), - expires_at,
  - principals (ids separated by ``|`` or spaces, each held by a mandate, else the row is
  rejected; default: the tenant's own for an own consent, none for a partner's), - source
  (``own``), - notice_given (yes/no; empty: not recorded), - conditional_on_sale (yes/no,
  ``no``). A ``given_at`` more than ``CONSENT_FUTURE_SKEW`` (5 minutes) after the import
  started is rejected (``fields.ConsentContext``). Each named principal is a
  ``consent_principals`` row, written in the consent's batch.
* contracts: callee, reference, starts_on (``YYYY-MM-DD`` or ``DD/MM/YYYY``), - sector
  (``general``), - ends_on (inclusive).
* oppositions: callee, - source (``import``).

**Natural keys** (what makes a re-import idempotent): consents (tenant, callee, scope,
given_at); contracts (tenant, reference); oppositions (tenant, callee). A row whose key exists
updates the record when a value differs (``updated``) or leaves it (``unchanged``); otherwise it
is ``created``. An import never revokes nor un-revokes a consent, and an opposition's source
changes only when the file has a ``source`` column — as do a consent's ``CONSENT_NAMES``.
Rows count in file order, so a key repeated in the file is created by its first row and
updated (or unchanged) by the next: the last wins.
Every other row is ``rejected`` with its line number (physical line of the file) and the reason:
the first ``SAMPLES`` are listed, all are counted by reason. Blank lines are counted
(``blank``): ``lines`` = created + updated + unchanged + rejected + blank.

**How (the throughput).** Two phases, memory bounded by constants, not by the file:

1. *Reading*: every record is parsed, validated and *staged* — a tuple of the values in the
   driver's form, first the first natural-key column (the number; a contract's reference), then
   the line (``staging.Stager``). Staged rows are sorted in runs of ``RUN_ROWS`` spilled to
   anonymous temporary files (``staging.Runs``). Past the first ``PARALLEL_AFTER`` records,
   worker processes do this work on chunks of ``WORKER_CHUNK`` records (``workers.Workers``,
   ``GATEWAY_IMPORT_WORKERS``; default one per CPU, at most 4); this process only splits the
   text into whole records.
2. *Writing*: the runs are merged in number order and written in batches cut between numbers,
   each in its own short transaction (one natural-key SELECT; one executemany INSERT on SQLite,
   one COPY on PostgreSQL; one executemany UPDATE). Number order touches each page of the
   (tenant, number) index once over the whole import instead of once per row: 3.5x less
   SQLite work on 1 M consents. On PostgreSQL two connections write at once
   (``PG_WRITERS``): batches never share a natural key, so they are independent
   (``writer.Writer``).

**Failure semantics: resumable.** Nothing is written before the whole file has been read (a
file refused for its header, or cut short by a client, writes nothing); then a killed or
failed import leaves every row either entirely in or not at all (whole batches), and the
registry consistent. Importing the same file again converges to the same state (the natural
keys), so "run it again" completes an interrupted import. One import per tenant at a time
(``tenant_lock``); other tenants' imports and the check path proceed (on SQLite they share the
write lock between batches only, each a few milliseconds).

**Modules, by job**: ``fields`` (columns, cells, reasons), ``limits`` (errors, limits, lock),
``staging`` (phase 1), ``workers`` (phase 1 in worker processes), ``writer`` (phase 2),
``importer`` (``import_csv``, the two phases in order).
"""

from app.registries.bulk.fields import (
    FIELDS,
    HEADERS,
    KINDS,
    SCOPES,
    Kind,
    read_day,
    read_instant,
)
from app.registries.bulk.importer import PARALLEL_AFTER, import_csv
from app.registries.bulk.limits import (
    BulkImportError,
    ImportBusy,
    ImportRefused,
    Limits,
    Progress,
    TooManyRows,
    tenant_lock,
)
from app.registries.bulk.writer import ANALYZE_AFTER
from bloctel.parse import FormatError
from rules_fr.data import SECTORS  # the sectors a contract's row may name

__all__ = ["ANALYZE_AFTER", "FIELDS", "HEADERS", "KINDS", "PARALLEL_AFTER", "SCOPES", "SECTORS",
           "BulkImportError", "FormatError", "ImportBusy", "ImportRefused", "Kind", "Limits",
           "Progress", "TooManyRows", "import_csv", "read_day", "read_instant", "tenant_lock"]
