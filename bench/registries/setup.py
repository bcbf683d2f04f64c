"""``python -m bench.registries.setup URL OUT``: migrate a fresh database and create the demo
tenant (campaign ``spring-2026``); write ``{"tenant", "admin", "dialer", …}`` to OUT."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

from rich.console import Console


def main() -> None:
    url, out = sys.argv[1:3]
    os.environ["DATABASE_URL"] = url
    from app.migrate import upgrade
    from app.seed import seed_demo

    upgrade(url)
    keys = seed_demo("http://127.0.0.1:8000", Console(file=io.StringIO()))
    Path(out).write_text(json.dumps(keys))


if __name__ == "__main__":
    main()
