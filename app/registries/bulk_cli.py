"""``gateway import consents|contracts|oppositions FILE``: registered in ``app.cli.root``.

Locally (no ``--url``) the file goes into the configured database (DATABASE_URL) for
``--tenant``; with ``--url``/``--key`` (an admin key of the tenant) it is streamed to a running
gateway's ``POST /v1/<kind>/import``. File format, natural keys and failure semantics:
``app.registries.bulk``. Progress, errors and remote calls: the CLI toolkit (``app.cli``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from app.cli.errors import Failed, database, fail
from app.cli.options import JsonOption, UrlOption, key_option
from app.cli.output import dumps, figure, out
from app.cli.progress import phases, upload_chunks
from app.cli.remote import call, client

AdminKey = key_option("An admin API key of the tenant")
import_cli = typer.Typer(help="Bulk imports into the registries.", no_args_is_help=True)


class Kind(StrEnum):
    consents = "consents"
    contracts = "contracts"
    oppositions = "oppositions"


_HELP = (
    "Import a CSV file of {kind} for one tenant.\n\n"
    "Header line (column names in any order; case, accents, spaces and hyphens ignored; "
    "other columns ignored and listed in the report), one column per field:\n"
    "{columns}\n\n"
    "{dates}\n\n"
    "File: ; , or tab (whichever the header holds most of); UTF-8 with or without BOM, "
    "CP-1252 or UTF-16; gzip or not; numbers national (06 12 34 56 78) or E.164 (+33 6…, "
    "0033 6…). Sample: docs/examples/{kind}.csv.\n\n"
    "Each row is created, updated or left unchanged by its natural key ({key}), or rejected "
    "with its line number and reason. The report (a table; --json: JSON) gives lines = "
    "created + updated + unchanged + rejected + blank, the first 100 rejected rows (line, "
    "value, error) and every rejection counted by reason, the file's sha256 and bytes, which "
    "column gave each field, the ignored columns, the delimiter and the seconds taken. Rows "
    "are written once the file is read whole, in batches: an interrupted import leaves every "
    "row wholly in or out, and running the same import again completes it.\n\n"
    "Past the first 1,000 rows, a file with more than GATEWAY_IMPORT_MAX_REJECTED (5 %) of its "
    "rows rejected stops at once, nothing written, with the rejected samples (--force imports "
    "it anyway). Through a gateway (--url) its limits apply too: GATEWAY_IMPORT_MAX_BYTES, "
    "GATEWAY_IMPORT_MAX_ROWS, GATEWAY_UPLOAD_STALL_S, GATEWAY_UPLOAD_MAX_SECONDS.\n\n"
    "Exit codes: 0 imported (even with some rejected rows), 1 failed or refused (e.g. a "
    "required column missing: the accepted names are listed), 2 usage error."
)
_REFUSED_HINT = "Nothing was written; --force imports the file anyway."
_NUMBER = ("  number (required): numero, telephone, tel, phone, callee, number, msisdn, mobile, "
           "numero_de_telephone, numero_telephone, phone_number")
_COLUMNS = {
    "consents": "\n".join((
        _NUMBER,
        "  given_at (required): date_consentement, given_at, date_du_consentement, consenti_le, "
        "consent_date",
        "  scope: portee, scope — canvassing (also prospection, demarchage; the default) or "
        "outside_hours (also hors_horaires: calls outside the legal days and hours)",
        "  channel: canal, channel — free text (default import)",
        "  evidence: preuve, evidence — a JSON object, or text stored as {\"text\": …}",
        "  expires_at: expire, expires_at, expiration, date_expiration, expire_le — empty: never",
        "  principals: principals, principal, mandants, mandant, donneurs_d_ordre — the "
        "principal ids the consent names, separated by | or spaces, each held by a mandate "
        "(else the row is rejected); empty: the tenant's own for an own consent, none for a "
        "partner's",
        "  source: source, origine — own (the default) or the partner or broker that collected "
        "it",
        "  notice_given: notice_given, information_donnee, notice, mention_information — "
        "oui/non (yes/no, true/false, 1/0); empty: not recorded",
        "  conditional_on_sale: conditional_on_sale, condition_de_vente, vente_liee — oui/non "
        "(default non); oui: void, a tied sale",
    )),
    "contracts": "\n".join((
        _NUMBER,
        "  reference (required): reference, contrat, contract, ref, reference_contrat",
        "  starts_on (required): debut, starts_on, date_debut, start, start_date",
        "  ends_on: fin, ends_on, date_fin, end, end_date — inclusive; empty: open-ended",
        "  sector: secteur, sector — general (the default), energy_renovation, home_adaptation, "
        "cpf_training, premium_rate_callback, press_subscription",
    )),
    "oppositions": "\n".join((
        _NUMBER,
        "  source: source, origine — free text (default import)",
    )),
}
_DATES = {
    "consents": "Instants (given_at, expires_at): ISO 8601 (2026-09-16T10:12:00+02:00, "
                "2026-10-02 18:45:00, 2026-10-01) or DD/MM/YYYY, DD/MM/YYYY HH:MM, "
                "DD/MM/YYYY HH:MM:SS, DD/MM/YYYY HHhMM (15/09/2026 14:03, 01/10/2026 09h30); "
                "without an offset, Paris time. A given_at more than 5 minutes after the "
                "import started is rejected (a proof dated in the future).",
    "contracts": "Days (starts_on, ends_on): YYYY-MM-DD or DD/MM/YYYY (2026-03-01, "
                 "01/04/2026).",
    "oppositions": "No dates: an opposition is recorded when it is imported.",
}
_KEYS = {"consents": "number, scope, given_at", "contracts": "reference",
         "oppositions": "number"}


def _local(kind: str, file: Path, tenant: str | None, show: bool, force: bool = False
           ) -> dict[str, Any]:
    from app.db import get_engine, session_scope
    from app.registries.bulk import (
        BulkImportError,
        ImportBusy,
        ImportRefused,
        Limits,
        import_csv,
    )
    from app.tenancy.models import Tenant
    from bloctel.parse import FormatError

    if not tenant:
        raise typer.BadParameter("the tenant to import into is needed (or --url/--key)",
                                 param_hint="'--tenant'")
    try:
        with database():
            with session_scope() as s:
                if s.get(Tenant, tenant) is None:
                    raise Failed(f"no tenant {tenant!r} in the database", error="not_found")
            with file.open("rb") as raw, phases(show, file.stat().st_size) as progress:
                return import_csv(get_engine(), raw, kind=kind,  # type: ignore[arg-type]
                                  tenant_id=tenant, progress=progress,
                                  limits=Limits.from_settings(force=force, local=True))
    except ImportRefused as exc:
        raise Failed(f"import refused: {exc}", error="import_refused", detail=str(exc),
                     report=exc.report, hint=_REFUSED_HINT) from exc
    except ImportBusy as exc:
        raise Failed(f"{exc}: try again when it is done", error="import_running") from exc
    except (BulkImportError, FormatError) as exc:
        raise Failed(f"{file} cannot be imported: {exc}", error="import_invalid",
                     detail=str(exc)) from exc
    except OSError as exc:
        raise Failed(f"cannot read {file}: {exc.strerror or exc}", error="io") from exc


def _remote(kind: str, file: Path, show: bool, url: str, key: str | None,
            force: bool = False) -> dict[str, Any]:
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise Failed(f"cannot read {file}: {exc.strerror or exc}", error="io") from exc
    with client(url, key, read_timeout=3600.0) as http, phases(show, size) as progress:

        try:
            return call(http, "POST", f"/v1/{kind}/import",
                        params={"force": "true"} if force else None,
                        forbidden="Imports need an admin key of the tenant.",
                        content=upload_chunks(file, progress),
                        headers={"Content-Type": "text/csv", "Content-Length": str(size)})
        except OSError as exc:
            raise Failed(f"cannot read {file}: {exc.strerror or exc}", error="io") from exc


def _show(r: dict[str, Any]) -> None:
    table = Table(title=f"Import of {r['kind']}", show_header=False, title_style="bold")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name in ("lines", "created", "updated", "unchanged"):
        table.add_row(name, figure(r.get(name)))
    rejected = r.get("rejected") or 0
    table.add_row("rejected", Text(figure(rejected), style="red" if rejected else ""))
    table.add_row("blank", figure(r.get("blank")))
    columns = r.get("columns") or {}
    table.add_row("columns", ", ".join(f"{k} ← {v!r}" for k, v in columns.items()))
    if r.get("ignored_columns"):
        table.add_row("ignored columns", ", ".join(map(repr, r["ignored_columns"])))
    table.add_row("sha256", str(r.get("sha256")))
    if r.get("seconds") is not None:
        table.add_row("seconds", f"{r['seconds']:.2f}")
    table.add_row("import id", str(r.get("import_id")))
    out.print(table)
    samples = r.get("rejected_samples") or []
    if samples:
        t = Table(title="Rejected lines", title_style="bold")
        t.add_column("line", justify="right", no_wrap=True)
        t.add_column("value", overflow="fold")
        t.add_column("reason", overflow="fold")
        for s in samples[:20]:
            t.add_row(figure(s.get("line")), Text(repr(s.get("value", ""))), str(s.get("error")))
        out.print(t)
        if rejected > 20:
            out.print(f"… and {rejected - 20:,} more rejected lines (--json lists up to 100)")
    reasons = r.get("reasons") or {}
    if reasons:
        t = Table(title="Rejected lines by reason", title_style="bold")
        t.add_column("reason", overflow="fold")
        t.add_column("lines", justify="right")
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
            t.add_row(str(reason), figure(count))
        out.print(t)


def _command(kind: Kind) -> None:
    def run(
        file: Annotated[Path, typer.Argument(
            exists=True, dir_okay=False, readable=True, show_default=False,
            help="The CSV file (header line; ; or ,; gzip or not).")],
        tenant: Annotated[str | None, typer.Option(
            "--tenant", "-t", show_default=False,
            help="Tenant id to import into (local mode; remotely the key's tenant).")] = None,
        as_json: JsonOption = False,
        quiet: Annotated[bool, typer.Option(
            "--quiet", "-q", help="No progress and no summary; errors only.")] = False,
        force: Annotated[bool, typer.Option(
            "--force", help="Import even if more than GATEWAY_IMPORT_MAX_REJECTED (5 %) of the "
            "rows are rejected (the good rows are imported, the others reported).")] = False,
        url: UrlOption = None,
        key: AdminKey = None,
    ) -> None:
        show = not (as_json or quiet)
        try:
            if url:
                report = _remote(kind.value, file, show, url, key, force)
            else:
                report = _local(kind.value, file, tenant, show, force)
        except Failed as exc:
            if exc.error == "import_refused":  # this command's summary and hint, not BLOCTEL's
                exc.hint = _REFUSED_HINT
                exc.message = exc.message.replace("force=true", "--force")
                if exc.report is not None and not as_json:
                    if not quiet:
                        _show(exc.report)
                    exc.report = None
            fail(exc, as_json=as_json, quiet=quiet)
        if as_json:
            print(dumps(report))
        elif not quiet:
            _show(report)

    run.__doc__ = _HELP.format(kind=kind.value, key=_KEYS[kind.value],
                               columns=_COLUMNS[kind.value], dates=_DATES[kind.value])
    import_cli.command(kind.value, help=run.__doc__)(run)


for _kind in Kind:
    _command(_kind)
