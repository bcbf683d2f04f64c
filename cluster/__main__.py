"""``make cluster``: the compose topology on this machine, until Ctrl-C.

    python -m cluster [--replicas 3] [--workers 2] [--port 8080] [--database-url URL]

Creates the PostgreSQL database when it is missing (default ``gateway_cluster`` on
127.0.0.1:5432, or ``CLUSTER_DATABASE_URL``), migrates it, seeds the demo tenant, starts the
replicas and HAProxy, and prints the balancer's URL, the keys and each replica's address.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

from rich.console import Console

from cluster import DEFAULT_DATABASE_URL, Cluster, ClusterError, ensure_database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="workers per replica")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLUSTER_PORT", 8080)),
                        help="HAProxy's port on 127.0.0.1")
    parser.add_argument("--database-url",
                        default=os.environ.get("CLUSTER_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args(argv)
    console = Console()
    try:
        url = ensure_database(args.database_url)
    except Exception as exc:
        console.print(f"[red]PostgreSQL unreachable at {args.database_url}: {exc}[/red]")
        return 2
    cluster = Cluster(url, replicas=args.replicas, workers=args.workers, port=args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with console.status(f"migrating, starting {args.replicas} replicas and HAProxy…"):
            cluster.start()
        print(cluster.run_gateway("demo", "seed", "--base-url", cluster.url), end="", flush=True)
        console.print(f"\n[bold green]Cluster[/bold green] {cluster.url}  (HAProxy → "
                      f"{args.replicas} replicas × {args.workers} workers, database "
                      f"{url.rsplit('/', 1)[-1]})")
        for r in cluster.replicas:
            console.print(f"  replica {r.name}: {r.url}  log {r.log_path}")
        console.print(f"  HAProxy states: {cluster.balancer.states()}")
        console.print("[dim]Ctrl-C stops every process.[/dim]")
        stop.wait()
    except KeyboardInterrupt:
        pass
    except ClusterError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
