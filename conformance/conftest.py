"""Starts the built `strongauth` binary for the conformance suite and gives the tests helpers.

The server runs from a temporary working directory (its own data/ with SQLite and dev keys),
or on PostgreSQL when STRONGAUTH_TEST_DATABASE_URL is set. CLI commands run in the same
directory with the same --database, so they see the same data.
"""
import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
BINARY = Path(os.environ.get("STRONGAUTH_BIN", ROOT / ".build" / "debug" / "strongauth"))
DATABASE_URL = os.environ.get("STRONGAUTH_TEST_DATABASE_URL")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A running `strongauth serve` and the CLI beside it."""

    def __init__(self, workdir: Path, port: int, env: dict):
        self.workdir = workdir
        self.port = port
        self.env = env
        self.base = f"http://127.0.0.1:{port}"
        # Names are unique per run: a PostgreSQL database outlives one run.
        self.run_id = secrets.token_hex(4)

    def cli(self, *args: str) -> dict:
        command = [str(BINARY), *args]
        if DATABASE_URL:
            command += ["--database", DATABASE_URL]
        result = subprocess.run(command, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return json.loads(result.stdout)

    def create_client(self, name: str, scopes="accounts,transfers", grants="client_credentials,password,refresh_token"):
        created = self.cli("clients", "create", "--id", f"{name}-{self.run_id}", "--scopes", scopes, "--grants", grants)
        return created["clientId"], created["clientSecret"]

    def create_user(self, name: str, password: str):
        username = f"{name}-{self.run_id}"
        created = self.cli("users", "create", "--username", username, "--password", password, "--phone", "+4915112345678")
        return username, created["id"]

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="session")
def server():
    if not BINARY.exists():
        pytest.fail(f"{BINARY} does not exist: run `swift build` first (scripts/test does)")
    workdir = Path(tempfile.mkdtemp(prefix="strongauth-conformance-"))
    port = _free_port()
    env = dict(os.environ)
    env.update({"STRONGAUTH_PASSWORD_HASH_COST": "4", "STRONGAUTH_LOCKOUT_MAX_FAILURES": "5"})
    env.pop("STRONGAUTH_DATABASE_URL", None)
    command = [str(BINARY), "serve", "--http-port", str(port)]
    if DATABASE_URL:
        command += ["--database", DATABASE_URL]
    log = open(workdir / "server.log", "w")
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    instance = Server(workdir, port, env)
    deadline = time.time() + 30
    while True:
        try:
            if requests.get(instance.url("/ready"), timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.time() > deadline:
            log.flush()
            pytest.fail("the server did not become ready:\n" + (workdir / "server.log").read_text())
        time.sleep(0.1)
    yield instance
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the server did not shut down within 10 s of SIGTERM")
    log.close()
    assert code == 0, "graceful shutdown exits 0:\n" + (workdir / "server.log").read_text()[-4000:]
