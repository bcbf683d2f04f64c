"""``python -m app.audit.sealer INTERVAL``: the ledger's sealing process, started by a server
worker (``app.audit.service.Sealer``); seals every INTERVAL seconds until its worker is gone."""

from app.audit.service import run_sealer
from app.jobs import main

if __name__ == "__main__":
    main(run_sealer)
