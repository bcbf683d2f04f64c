"""The sample files of ``docs/examples/`` and what documents them: each sample imports whole
(every field mapped, nothing rejected or ignored) on SQLite and PostgreSQL, and every header the
importer accepts, every date format it reads, is named in README.md and in the import commands'
``--help`` (so neither drifts from ``app.registries.bulk``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.principals.models import Professional
from app.registries import bulk

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: one example of each date format the importer reads, as README and --help write it
INSTANTS = ["2026-09-16T10:12:00+02:00", "2026-10-02 18:45:00", "2026-10-01",
            "15/09/2026 14:03", "01/10/2026 09h30"]
DAYS = ["2026-03-01", "01/04/2026"]


def make_tenant(name: str = "Acme") -> str:
    from app.clock import now
    from app.db import session_scope
    from app.tenancy.models import Tenant

    tenant_id = f"t-{name.lower()}"
    with session_scope(write=True) as s:
        s.add(Tenant(id=tenant_id, name=name, legal_form="legal_person", status="active",
                     policy={}, created_at=now()))
        s.flush()  # its own principal, as create_tenant makes it (consents name it)
        s.add(Professional(id=tenant_id, name=name, tenant_id=tenant_id, created_at=now()))
    return tenant_id


def _import(kind: str, tenant_id: str) -> dict[str, Any]:
    from app.db import get_engine

    with (EXAMPLES / f"{kind}.csv").open("rb") as f:
        return bulk.import_csv(get_engine(), f, kind=kind, tenant_id=tenant_id)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", bulk.KINDS)
def test_each_sample_imports_whole_with_every_field(db: Any, freeze: Any, kind: str) -> None:
    freeze("2026-11-23T10:30:00+01:00")
    tenant = make_tenant()
    report = _import(kind, tenant)
    data_lines = len((EXAMPLES / f"{kind}.csv").read_text(encoding="utf-8").splitlines()) - 1
    assert (report["lines"], report["created"], report["rejected"]) == (
        data_lines, data_lines, 0), report
    assert report["ignored_columns"] == [] and report["rejected_samples"] == []
    assert set(report["columns"]) == set(bulk.FIELDS[kind])  # every field, one column each
    again = _import(kind, tenant)  # idempotent, as the README says
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, data_lines)


def test_the_consents_sample_uses_every_date_format() -> None:
    text = (EXAMPLES / "consents.csv").read_text(encoding="utf-8")
    for example in ["2026-09-16T10:12:00+02:00", "2026-10-02 18:45:00", ";2026-10-01;",
                    "15/09/2026 14:03;", "01/10/2026 09h30", "15/09/2099 14:03:00",
                    ";31/12/2099"]:
        assert example in text, example
    for example in INSTANTS:
        assert bulk.read_instant(example) is not None, example
    for example in DAYS:
        assert bulk.read_day(example) is not None, example


@pytest.mark.parametrize("kind", bulk.KINDS)
def test_help_names_every_accepted_header_and_date_format(kind: str) -> None:
    from app.cli import cli

    result = CliRunner().invoke(cli, ["import", kind, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    text = re.sub(r"[\s│]+", " ", result.output)
    for field in bulk.FIELDS[kind]:
        for alias in bulk.HEADERS[field]:
            assert re.search(rf"[ :,]{alias}[,\s]", text), (field, alias)
    assert f"docs/examples/{kind}.csv" in text
    if kind == "consents":
        assert all(example in text for example in INSTANTS)
        assert all(scope in text for scope in bulk.SCOPES)
    if kind == "contracts":
        assert all(example in text for example in DAYS)
        assert all(sector in text for sector in bulk.SECTORS)


def test_readme_documents_every_header_format_and_report_field(db: Any, freeze: Any) -> None:
    section = README[README.index("## Bulk imports"):README.index("## Reports")]
    for field, aliases in bulk.HEADERS.items():
        for alias in aliases:
            assert f"`{alias}`" in section, (field, alias)
    for example in INSTANTS + DAYS:
        assert f"`{example}" in section or example in section, example
    assert all(f"`{scope}`" in section for scope in bulk.SCOPES)
    assert all(f"`{sector}`" in section for sector in bulk.SECTORS)
    freeze("2026-11-23T10:30:00+01:00")
    report = _import("oppositions", make_tenant())
    for key in report:  # every field of the import report has its row in the table
        assert re.search(rf"^\| [^|]*`{key}`", section, re.M), key
