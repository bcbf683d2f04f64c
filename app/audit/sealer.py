"""``python -m app.audit.sealer INTERVAL``: the ledger's sealing process, started by a server
worker (``app.audit.service.Sealer``); seals every INTERVAL seconds until its worker is gone."""

from __future__ import annotations

import logging
import os
import sys

from app.audit.service import run_sealer

if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("GATEWAY_LOG_LEVEL", "info").upper(),
                        format="%(levelname)s: %(name)s: %(message)s")
    run_sealer(float(sys.argv[1]))
