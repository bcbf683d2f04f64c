"""``python -m app.monitors.runner INTERVAL``: the monitors' process, started by a server
worker (``app.monitors.service.Monitors``); one turn every INTERVAL seconds."""

from app.jobs import main
from app.monitors.service import run_monitors

if __name__ == "__main__":
    main(run_monitors)
