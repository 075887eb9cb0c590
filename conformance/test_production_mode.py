"""Production mode (SECURITY.md, docs/operations.md), through the binary: the `file` notification
channel (SMS codes in a plain file), an `http://` issuer, SQLite and `/admin` on the main port are
refused unless the setting each refusal names allows them; `/metrics` is never on the main port —
with `metrics.port` it is served there only, and with `admin.port` `/admin` is served there only.

Each test starts its own `strongauth serve` in production mode in a work directory of its own,
on a fresh SQLite file or, on PostgreSQL, a scratch database (a production node on the suite's
database would deliver the session server's SMS outbox to its own channel)."""
import contextlib
import subprocess
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
    """A production environment that passes every refusal but the ones a test is about: an https
    issuer, an admin listener of its own, SQLite allowed (a test on PostgreSQL passes its URL)."""
    env = conftest._child_env()
    env["STRONGAUTH_MODE"] = "production"
    env["STRONGAUTH_MASTER_KEY"] = conftest.TEST_MASTER_KEY
    env["STRONGAUTH_ISSUER"] = "https://auth.bank.example"
    env["STRONGAUTH_ADMIN_PORT"] = str(conftest._free_port())
    env["STRONGAUTH_DATABASE_ALLOW_SQLITE_IN_PRODUCTION"] = "true"
    env.update({key: str(value) for key, value in extra.items()})
    return {key: value for key, value in env.items() if value != "None"}


@contextlib.contextmanager
def serving(name, workdir, env):
    """A production node on the test's own database, ready; stopped at the end, which must be clean."""
    with database() as url:
        node = cluster.Node(name, workdir, env, database_url=url)
        node.start()
        try:
            yield node
        finally:
            code = node.stop()
        assert code == 0, node.log_tail()


def wait_exit(node, timeout=conftest.READY_TIMEOUT):
    deadline = time.monotonic() + timeout
    while node.process.poll() is None:
        if node.ready_status(timeout=0.5) == 200:
            return None
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)
    return node.process.returncode


def refused(workdir, name, env):
    """Starts a node that must not start; returns its log."""
    node = cluster.Node(name, workdir, env, database_url="")
    node.start(wait=False)
    try:
        code = wait_exit(node)
    finally:
        node.stop()
    assert code not in (None, 0), f"{name}: the production server started:\n{node.log_tail()}"
    return node.log_tail()


def test_production_refuses_the_file_notification_channel(workdir):
    for name, extra in [("implicit", {}), ("explicit", {"STRONGAUTH_NOTIFICATIONS_CHANNEL": "file"}),
                        ("not-allowed", {"STRONGAUTH_NOTIFICATIONS_ALLOW_FILE_IN_PRODUCTION": "false"})]:
        log = refused(workdir, f"prod-file-{name}", production_env(**extra))
        assert "notifications.allowFileInProduction" in log and "notifications.channel" in log, log
        assert not (workdir / "data" / "notifications.jsonl").exists()


def test_production_with_the_file_channel_allowed_starts_and_warns(workdir):
    with serving("prod-file-allowed", workdir, production_env(STRONGAUTH_NOTIFICATIONS_ALLOW_FILE_IN_PRODUCTION="true")) as node:
        assert requests.get(node.url("/health"), timeout=5).status_code == 200
    log = node.log_tail()
    assert "warning" in log.lower() and "notifications.allowFileInProduction" in log, log


def test_production_serves_metrics_only_on_the_metrics_port(workdir):
    metrics_port = conftest._free_port()
    with serving("prod-metrics", workdir,
                 production_env(STRONGAUTH_NOTIFICATIONS_CHANNEL="log", STRONGAUTH_METRICS_PORT=metrics_port)) as node:
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


def test_production_without_a_metrics_port_serves_no_metrics_and_says_so(workdir):
    with serving("prod-no-metrics", workdir, production_env(STRONGAUTH_NOTIFICATIONS_CHANNEL="log")) as node:
        assert requests.get(node.url("/metrics"), timeout=5).status_code == 404
    assert "metrics.port" in node.log_tail(), node.log_tail()


def test_production_refuses_an_http_issuer_sqlite_and_admin_on_the_public_port(workdir):
    base = {"STRONGAUTH_NOTIFICATIONS_CHANNEL": "log"}
    # An http:// issuer, and the default one (http://127.0.0.1:PORT) that a forgotten issuer gives.
    for name, issuer in [("http-issuer", "http://auth.bank.example"), ("default-issuer", None)]:
        log = refused(workdir, f"prod-{name}", production_env(**base, STRONGAUTH_ISSUER=issuer))
        assert "http.allowHttpIssuerInProduction" in log and "STRONGAUTH_ISSUER" in log, log
    log = refused(workdir, "prod-sqlite", production_env(**base, STRONGAUTH_DATABASE_ALLOW_SQLITE_IN_PRODUCTION=None))
    assert "database.allowSqliteInProduction" in log and "--allow-sqlite-in-production" in log, log
    log = refused(workdir, "prod-admin", production_env(**base, STRONGAUTH_ADMIN_PORT=None))
    assert "admin.port" in log and "admin.allowOnMainPortInProduction" in log, log


def test_production_starts_when_each_is_allowed_by_its_setting(workdir):
    env = production_env(STRONGAUTH_NOTIFICATIONS_CHANNEL="log", STRONGAUTH_ISSUER="http://sca.bank.internal",
                         STRONGAUTH_HTTP_ALLOW_HTTP_ISSUER_IN_PRODUCTION="true", STRONGAUTH_ADMIN_PORT=None,
                         STRONGAUTH_ADMIN_ALLOW_ON_MAIN_PORT_IN_PRODUCTION="true")
    with serving("prod-allowed", workdir, env) as node:
        assert requests.get(node.url("/admin/login"), timeout=5).status_code == 200
        metadata = requests.get(node.url("/.well-known/oauth-authorization-server"), timeout=5).json()
        assert metadata["issuer"] == "http://sca.bank.internal"


def test_serve_allow_sqlite_in_production_flag(workdir):
    env = production_env(STRONGAUTH_NOTIFICATIONS_CHANNEL="log", STRONGAUTH_DATABASE_ALLOW_SQLITE_IN_PRODUCTION=None)
    port = conftest._free_port()
    with open(workdir / "flag.log", "wb") as log:
        process = subprocess.Popen([str(conftest.BINARY), "serve", "--http-port", str(port), "--allow-sqlite-in-production"],
                                   cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + conftest.READY_TIMEOUT
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, (workdir / "flag.log").read_text()
                time.sleep(0.1)
            assert requests.get(f"http://127.0.0.1:{port}/ready", timeout=5).json()["database"] == "sqlite"
        finally:
            process.terminate()
            assert process.wait(conftest.SHUTDOWN_TIMEOUT) == 0


def test_production_serves_admin_only_on_the_admin_port(workdir):
    admin_port = conftest._free_port()
    with serving("prod-admin-port", workdir,
                 production_env(STRONGAUTH_NOTIFICATIONS_CHANNEL="log", STRONGAUTH_ADMIN_PORT=admin_port)) as node:
        main = requests.get(node.url("/admin/login"), timeout=5)
        assert main.status_code == 404 and main.headers["Content-Type"].startswith("application/problem+json")
        assert requests.get(node.url("/self-service/login"), timeout=5).status_code == 200
        admin = requests.get(f"http://127.0.0.1:{admin_port}/admin/login", timeout=5)
        assert admin.status_code == 200 and "<form" in admin.text, admin.text[:300]
        for path in ("/health", "/oauth/token", "/self-service/login", "/metrics"):
            assert requests.get(f"http://127.0.0.1:{admin_port}{path}", timeout=5).status_code == 404, path
