"""The compose file is the production reference; `make cluster` runs the same topology here.

No Docker engine runs on the build machines, so these tests hold the reference to what is run
and tested: the balancer's configuration is the one ``cluster.haproxy`` renders (and HAProxy
accepts it), the replicas serve ``/readyz`` with two workers, migrations run once, before any
replica, and the image installs the lock file's versions.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from cluster import haproxy, haproxy_binary

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_the_balancer_config_is_the_one_make_cluster_renders() -> None:
    assert (DOCKER / "haproxy.cfg").read_text() == haproxy.compose(), (
        "regenerate it: python -m cluster.haproxy > docker/haproxy.cfg")
    assert (DOCKER / "errors" / "503.http").read_bytes() == haproxy.UNAVAILABLE_503.encode()


def test_compose_topology(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "gateway", "haproxy"}
    gw = services["gateway"]
    assert gw["deploy"]["replicas"] == haproxy.COMPOSE_REPLICAS
    command = gw["command"]
    assert command[:2] == ["gateway", "serve"]
    assert command[command.index("--workers") + 1] == "2"
    assert command[command.index("--port") + 1] == "8000"
    assert "/readyz" in " ".join(gw["healthcheck"]["test"])
    # replicas never migrate; the one-shot service does, after PostgreSQL is healthy
    assert "upgrade" not in command
    assert services["migrate"]["command"] == ["gateway", "db", "upgrade"]
    assert gw["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert gw["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
    volumes = services["haproxy"]["volumes"]
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in volumes
    assert f"./errors:{haproxy.COMPOSE_ERRORS_DIR}:ro" in volumes


def test_the_image_installs_the_lock_file() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert "pip install --no-cache-dir -r requirements.lock.txt" in dockerfile
    assert "--no-deps ." in dockerfile


def test_haproxy_accepts_both_configs(tmp_path: Path) -> None:
    binary = haproxy_binary() or "haproxy"
    if not os.path.exists(binary):
        if os.environ.get("CI"):
            pytest.fail("haproxy is missing: .ci/run installs it")
        pytest.skip("haproxy not installed (apt-get install haproxy)")
    errors = tmp_path / "errors"
    errors.mkdir()
    (errors / "503.http").write_text(haproxy.UNAVAILABLE_503)
    local = tmp_path / "local.cfg"
    local.write_text(haproxy.render(
        "127.0.0.1:18080", haproxy.Backend(servers=[("r1", "127.0.0.1:18081")]),
        errors_dir=str(errors), stats_socket=str(tmp_path / "s.sock")))
    # the compose text, its error pages pointed at a local directory
    docker = tmp_path / "docker.cfg"
    docker.write_text(haproxy.compose().replace(haproxy.COMPOSE_ERRORS_DIR, str(errors)))
    for cfg in (local, docker):
        check = subprocess.run([binary, "-c", "-f", str(cfg)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
