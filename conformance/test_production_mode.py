"""Production mode (SECURITY.md), through the binary: the `file` notification channel (SMS codes in
a plain file) is refused unless explicitly allowed, and `/metrics` is never on the main port —
with `metrics.port` it is served there only.

Each test starts its own `strongauth serve` in production mode in a work directory of its own,
on a fresh SQLite file or, on PostgreSQL, a scratch database (a production node on the suite's
database would deliver the session server's SMS outbox to its own channel)."""
import contextlib
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import requests

import cluster
import conftest


@pytest.fixture
def workdir():
    if not conftest.BINARY.exists():
        pytest.fail(f"{conftest.BINARY} does not exist: build it first")
    path = Path(tempfile.mkdtemp(prefix="strongauth-prodmode-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def database():
    """A database URL of the test's own: a scratch PostgreSQL database, or "" (SQLite in the
    node's work directory)."""
    if conftest.DATABASE_URL:
        with cluster.scratch_database("sa_prodmode") as scratch:
            yield scratch.url
    else:
        yield ""


def production_env(**extra) -> dict:
    env = conftest._child_env()
    env["STRONGAUTH_MODE"] = "production"
    env["STRONGAUTH_MASTER_KEY"] = conftest.TEST_MASTER_KEY
    env.update({key: str(value) for key, value in extra.items()})
    return env


def wait_exit(node, timeout=conftest.READY_TIMEOUT):
    deadline = time.monotonic() + timeout
    while node.process.poll() is None:
        if node.ready_status(timeout=0.5) == 200:
            return None
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)
    return node.process.returncode


def test_production_refuses_the_file_notification_channel(workdir):
    for name, extra in [("implicit", {}), ("explicit", {"STRONGAUTH_NOTIFICATIONS_CHANNEL": "file"}),
                        ("not-allowed", {"STRONGAUTH_NOTIFICATIONS_ALLOW_FILE_IN_PRODUCTION": "false"})]:
        node = cluster.Node(f"prod-file-{name}", workdir, production_env(**extra), database_url="")
        node.start(wait=False)
        try:
            code = wait_exit(node)
        finally:
            node.stop()
        assert code not in (None, 0), f"{name}: a production server with the file channel started:\n{node.log_tail()}"
        log = node.log_tail()
        assert "notifications.allowFileInProduction" in log and "notifications.channel" in log, log
        assert not (workdir / "data" / "notifications.jsonl").exists()


def test_production_with_the_file_channel_allowed_starts_and_warns(workdir):
    with database() as url:
        node = cluster.Node("prod-file-allowed", workdir,
                            production_env(STRONGAUTH_NOTIFICATIONS_ALLOW_FILE_IN_PRODUCTION="true"), database_url=url)
        node.start()
        try:
            assert requests.get(node.url("/health"), timeout=5).status_code == 200
        finally:
            code = node.stop()
        assert code == 0, node.log_tail()
        log = node.log_tail()
        assert "warning" in log.lower() and "notifications.allowFileInProduction" in log, log


def test_production_serves_metrics_only_on_the_metrics_port(workdir):
    metrics_port = conftest._free_port()
    with database() as url:
        node = cluster.Node("prod-metrics", workdir,
                            production_env(STRONGAUTH_NOTIFICATIONS_CHANNEL="log", STRONGAUTH_METRICS_PORT=metrics_port),
                            database_url=url)
        node.start()
        try:
            main = requests.get(node.url("/metrics"), timeout=5)
            assert main.status_code == 404, main.text[:300]
            assert main.headers["Content-Type"].startswith("application/problem+json"), main.headers
            assert "http_server_request" not in main.text
            assert requests.get(node.url("/health"), timeout=5).status_code == 200

            metrics = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
            assert metrics.status_code == 200, metrics.text[:300]
            assert metrics.headers["Content-Type"].startswith("text/plain"), metrics.headers
            assert "http_server_request" in metrics.text, metrics.text[:500]
            # The metrics listener serves nothing else: no API, no back office.
            for path in ("/health", "/.well-known/jwks.json", "/admin/login", "/openapi.yaml"):
                assert requests.get(f"http://127.0.0.1:{metrics_port}{path}", timeout=5).status_code == 404, path
        finally:
            code = node.stop()
        assert code == 0, node.log_tail()


def test_production_without_a_metrics_port_serves_no_metrics_and_says_so(workdir):
    with database() as url:
        node = cluster.Node("prod-no-metrics", workdir, production_env(STRONGAUTH_NOTIFICATIONS_CHANNEL="log"), database_url=url)
        node.start()
        try:
            assert requests.get(node.url("/metrics"), timeout=5).status_code == 404
        finally:
            code = node.stop()
        assert code == 0, node.log_tail()
        assert "metrics.port" in node.log_tail(), node.log_tail()
