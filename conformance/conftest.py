"""Starts the built `strongauth` binary for the conformance suite and gives the tests helpers.

The server runs from a temporary working directory (its own data/ with SQLite and dev keys), or on
PostgreSQL when STRONGAUTH_TEST_DATABASE_URL (postgres://…) is set. CLI commands run in the same
directory with the same --database, so they see the same data. Client ids and usernames carry a
random suffix per run, because a PostgreSQL database outlives one run.

Environment:
  STRONGAUTH_BIN                 the binary (default: <repo>/.build/debug/strongauth)
  STRONGAUTH_TEST_DATABASE_URL   run on this PostgreSQL database instead of a fresh SQLite file
  STRONGAUTH_TEST_MASTER_KEY     the master key for a PostgreSQL run (default: a fixed test key)

On SQLite each run starts from nothing: the server generates its development master key in
data/master.key of the temporary directory. A PostgreSQL database outlives the run, and its signing
keys and secret hashes are sealed under the master key, so a PostgreSQL run uses one fixed test
master key (STRONGAUTH_MASTER_KEY) that every run shares; a database created under another master
key must be reset first (scripts/postgres.sh reset).

Every other STRONGAUTH_* variable of the caller is dropped, so that a developer's shell
configuration (a port, a config file, a database URL) cannot leak into the run.
"""
import json
import os
import secrets
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINARY = Path(os.environ.get("STRONGAUTH_BIN") or ROOT / ".build" / "debug" / "strongauth")
DATABASE_URL = os.environ.get("STRONGAUTH_TEST_DATABASE_URL") or None

READY_TIMEOUT = 30.0
# A node's graceful shutdown may wait for an in-flight request whose database lease was lost in
# a PostgreSQL restart (the pool's watchdog replaces the client after 8 s, the call retries) and
# then for the PostgreSQL client to stop (at most 5 s): 10 s killed such nodes in CI. A node that
# really hangs still fails.
SHUTDOWN_TIMEOUT = 20.0
CLI_TIMEOUT = 60.0
LOG_TAIL = 8000

# Base64 of 32 bytes: a key for throwaway test databases only, never for anything real.
TEST_MASTER_KEY = os.environ.get("STRONGAUTH_TEST_MASTER_KEY") or "c3Ryb25nYXV0aC1jb25mb3JtYW5jZS10ZXN0LWtleSE="

SERVER_ENV = {
    "STRONGAUTH_PASSWORD_HASH_COST": "4",  # fast bcrypt for tests
    "STRONGAUTH_LOCKOUT_MAX_FAILURES": "5",
    # Short device challenges so that expiry can be watched; SMS OTPs keep the default 5 minutes.
    "STRONGAUTH_DEVICES_CHALLENGE_LIFETIME_SECONDS": "3",
    # The suite sends bursts from one address (50 concurrent uses of a token, …): rate limits stay
    # on but high; test_rate_limits.py runs its own server with the defaults' shape, smaller.
    "STRONGAUTH_RATE_LIMITS_ADDRESS_PER_MINUTE": "100000",
    "STRONGAUTH_RATE_LIMITS_ADDRESS_BURST": "10000",
    # Races bind 20 devices of one user and many flows text one number: the OTP SMS and pending
    # device caps stay on but high; test_sms_caps.py runs its own nodes with small caps.
    "STRONGAUTH_SMS_OTP_PER_USER_PER_HOUR": "1000",
    "STRONGAUTH_SMS_OTP_PER_PHONE_PER_HOUR": "1000",
    "STRONGAUTH_DEVICES_MAX_PENDING_PER_USER": "100",
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def caller_env(*layers: dict, **settings) -> dict:
    """This process's environment without its STRONGAUTH_* variables (a developer's shell
    configuration must not leak into a test's server or CLI), with `layers` and then `settings`
    added in order (values as strings)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("STRONGAUTH_")}
    for layer in (*layers, settings):
        env.update({key: str(value) for key, value in layer.items()})
    return env


def _child_env() -> dict:
    env = caller_env(SERVER_ENV)
    if DATABASE_URL:
        env["STRONGAUTH_MASTER_KEY"] = TEST_MASTER_KEY
    return env


def _database_args() -> list:
    return ["--database", DATABASE_URL] if DATABASE_URL else []


def file_tail(path: Path, limit: int) -> str:
    """The last `limit` characters of a log file."""
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"(no log: {error})"
    return text if len(text) <= limit else "…\n" + text[-limit:]


class Server:
    """A running `strongauth serve` and the CLI beside it (on `database_url`: the suite's
    database by default)."""

    def __init__(self, workdir: Path, port: int, env: dict, log_path: Path, database_url: str = None):
        self.workdir = workdir
        self.port = port
        self.env = env
        self.log_path = log_path
        self.database_url = database_url if database_url is not None else DATABASE_URL
        self.base = f"http://127.0.0.1:{port}"
        self.run_id = secrets.token_hex(4)
        self.node = None  # the session's server: its cluster.Node

    # --- names -------------------------------------------------------------------------------

    def unique(self, name: str) -> str:
        """A client id or username that no earlier run on the same database used, nor this run:
        the suffix has 32 random bits (16 collided once, in CI, among a module's `pkjwt` clients)."""
        return f"{name}-{self.run_id}-{secrets.token_hex(4)}"

    # --- CLI ---------------------------------------------------------------------------------

    def cli(self, *args: str) -> dict:
        """Runs `strongauth ARGS --database …` in the work directory; returns its JSON output."""
        import cluster
        return cluster.cli(self.workdir, self.env, self.database_url, *args)

    def create_client(self, name: str, scopes: str = "accounts,transfers",
                      grants: str = "client_credentials,password,refresh_token"):
        """Creates a confidential client; returns (client_id, client_secret)."""
        client_id = self.unique(name)
        created = self.cli("clients", "create", "--id", client_id, "--scopes", scopes, "--grants", grants)
        assert created.get("clientId") == client_id, created
        assert created.get("clientSecret"), created
        return created["clientId"], created["clientSecret"]

    def create_user(self, name: str, password: str, phone: str = "+4915112345678"):
        """Creates an end user; returns (username, user_id)."""
        username = self.unique(name)
        created = self.cli("users", "create", "--username", username, "--password", password, "--phone", phone)
        assert created.get("id"), created
        return username, created["id"]

    # --- HTTP --------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base + path

    def sms_to(self, phone: str, timeout: float = 5.0) -> str:
        """The newest OTP sent to `phone`, read from data/notifications.jsonl (the file channel)."""
        path = self.workdir / "data" / "notifications.jsonl"
        deadline = time.time() + timeout
        while time.time() < deadline:
            if path.exists():
                for line in reversed(path.read_text().splitlines()):
                    record = json.loads(line)
                    if record["to"] == phone:
                        return record["message"].split(" is ")[1][:6]
            time.sleep(0.05)
        pytest.fail(f"no SMS to {phone} within {timeout} s")

    # --- diagnostics -------------------------------------------------------------------------

    def log_tail(self, limit: int = LOG_TAIL) -> str:
        return file_tail(self.log_path, limit)


_server_instance = None


@pytest.fixture(scope="session")
def server(request):
    global _server_instance
    import cluster
    if not BINARY.exists():
        pytest.fail(f"{BINARY} does not exist: build it first (`swift build`; scripts/test does), "
                    f"or point STRONGAUTH_BIN at it")
    workdir = Path(tempfile.mkdtemp(prefix="strongauth-conformance-"))
    port = _free_port()
    log_path = workdir / "server.log"
    instance = Server(workdir, port, _child_env(), log_path)
    instance.node = cluster.Node("server", workdir, instance.env, port, log_path=log_path)
    _server_instance = instance
    try:
        instance.node.start()
        yield instance
    finally:
        code = instance.node.stop()
        _server_instance = None

    if code != 0:
        pytest.fail(f"the server did not shut down cleanly on SIGTERM (exit: {code}); "
                    f"workdir {workdir}:\n{instance.log_tail()}")
    if request.session.testsfailed == 0:
        shutil.rmtree(workdir, ignore_errors=True)


_first_node_of_test = 0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Marks where the nodes this test starts begin in `cluster.Node.started`."""
    global _first_node_of_test
    import cluster
    _first_node_of_test = len(cluster.Node.started)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attaches the session server's log (stdout and stderr) to every failed test's report, and
    the log of every other node the test started or that is still running."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    import cluster
    instance = _server_instance
    if instance is not None:
        report.sections.append((
            f"strongauth server log ({instance.node.status()}; {instance.log_path})",
            instance.log_tail(),
        ))
    started = cluster.Node.started
    for index, node in enumerate(started):
        if (instance is None or node is not instance.node) and (index >= _first_node_of_test or node.alive()):
            report.sections.append((f"strongauth node {node.name} log ({node.status()}; {node.log_path})", node.log_tail()))
