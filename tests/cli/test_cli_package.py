"""``app.cli`` is a package: the toolkit loads without the root, and a domain's commands can be
imported before the root (which imports them all) without a cycle."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env=os.environ | {"PYTHONPATH": str(ROOT)}, timeout=60)


def test_the_toolkit_does_not_load_the_root() -> None:
    r = _run("import sys, app.cli.errors, app.cli.options, app.cli.output, app.cli.progress, "
             "app.cli.remote; assert 'app.cli.root' not in sys.modules, 'root loaded'")
    assert r.returncode == 0, r.stderr


def test_a_domains_commands_import_first_then_the_root() -> None:
    r = _run("import app.scrub.cli, app.tenancy.cli, app.audit.cli, app.reports.cli, "
             "app.principals.cli, app.registries.bulk_cli, app.bloctel.cli\n"
             "from app.cli import cli, main\n"
             "import typer.main\n"
             "names = set(typer.main.get_command(cli).commands)\n"
             "assert {'keys', 'bloctel', 'scrub', 'import', 'report', 'audit', 'principals', "
             "'db', 'demo', 'serve'} <= names, names")
    assert r.returncode == 0, r.stderr
