"""``python -m app.cli``: the ``gateway`` command."""

from app.cli import main

main()
