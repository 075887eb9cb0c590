"""Several `strongauth serve` nodes on one database, for the multi-node, fault and abuse tests.

- `Node`: one `strongauth serve` process on a free port, started in a work directory with an
  environment, waited for until `/ready` answers 200; stopped with SIGTERM or killed with SIGKILL.
  It logs to a file in its work directory; conftest attaches the log of every node a failed test
  started (and of every node still running) to the test's report. The session's server is one too.
- `cli()`: the `strongauth` CLI in a work directory, on a node's database; its JSON output
  (`run_cli()`: the finished process, for a test that expects the CLI to refuse).
- `RoundRobin`: the session's `Server` (conftest) with `url()` rotating over several nodes, so that
  the helpers of the other conformance modules (which all build URLs with `server.url(path)`)
  send consecutive requests of one flow to different nodes. Everything else (the CLI, the SMS
  file, unique names) is the session server's.
- `scratch_database()`: a fresh PostgreSQL database beside the suite's (role sa may create
  databases), for tests whose nodes must not share background work with the session's server.
- `postgres_is_ours()`, `postgres_ctl()`: whether the suite's PostgreSQL is the one this
  checkout's scripts/postgres.sh started (then a test may stop and start it), and doing so.

Nodes of one cluster share `STRONGAUTH_ISSUER` (tokens carry the issuer, and every node checks
it), as the nodes of a real deployment share their public URL.
"""
import itertools
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

import conftest

PSQL = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"


class Node:
    """One `strongauth serve` process.

    `database_url`: None is the suite's database (conftest.DATABASE_URL: PostgreSQL, or on a
    SQLite run the work directory's own file), "" the work directory's own SQLite file whatever
    the suite runs on, anything else that database. `env` is the node's whole environment
    (conftest.caller_env() builds one). Used as a context manager, it is started on entry and
    stopped with SIGTERM on exit."""

    # Every node started in this session, in order: conftest shows the logs of those a failed
    # test started.
    started: list = []

    def __init__(self, name: str, workdir: Path, env: dict, port: int = None, database_url: str = None,
                 log_path: Path = None):
        self.name = name
        self.workdir = Path(workdir)
        self.env = dict(env)
        self.port = port or conftest._free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url if database_url is not None else conftest.DATABASE_URL
        self.log_path = Path(log_path) if log_path else self.workdir / f"node-{name}-{self.port}.log"
        self.process = None
        self._log = None

    def url(self, path: str) -> str:
        return self.base + path

    def cli(self, *args: str) -> dict:
        """`strongauth ARGS` in the node's work directory with its environment and database."""
        return cli(self.workdir, self.env, self.database_url, *args)

    def start(self, wait: bool = True) -> "Node":
        self._log = open(self.log_path, "ab")
        command = [str(conftest.BINARY), "serve", "--http-port", str(self.port)]
        if self.database_url:
            command += ["--database", self.database_url]
        self.process = subprocess.Popen(command, cwd=self.workdir, env=self.env, stdout=self._log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        Node.started.append(self)
        if wait:
            self.wait_ready()
        return self

    def __enter__(self) -> "Node":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

    def status(self) -> str:
        if self.process is None:
            return "not started"
        code = self.process.poll()
        return "running" if code is None else f"exited with {code}"

    def ready_status(self, timeout: float = 2.0):
        """The status code of GET /ready, or None when the node does not answer."""
        try:
            return requests.get(self.url("/ready"), timeout=timeout).status_code
        except requests.RequestException:
            return None

    def wait_ready(self, timeout: float = conftest.READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            status = self.ready_status(timeout=1)
            if status == 200:
                return
            if self.process.poll() is not None:
                pytest.fail(f"node {self.name} exited ({self.process.returncode}) before it was ready; "
                            f"workdir {self.workdir}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"node {self.name}: GET /ready was not 200 within {timeout:.0f} s "
                            f"(last: {status or 'no answer'}); workdir {self.workdir}:\n{self.log_tail()}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self):
        """SIGKILL: no shutdown, no goodbye (a crashed machine)."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._close_log()

    def stop(self) -> object:
        """SIGTERM and wait; returns the exit code ("killed" when it had to be killed)."""
        code = None
        if self.process is not None:
            code = self.process.poll()
            if code is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    code = self.process.wait(timeout=conftest.SHUTDOWN_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
                    code = "killed"
        self._close_log()
        return code

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, limit: int = 4000) -> str:
        return conftest.file_tail(self.log_path, limit)


def peer_env(server, **extra) -> dict:
    """The session server's environment for a further node of the same cluster."""
    env = dict(server.env)
    env["STRONGAUTH_ISSUER"] = server.base
    env.update({key: str(value) for key, value in extra.items()})
    return env


class RoundRobin:
    """The session's server, with `url()` rotating over `bases` (one request, the next node).

    `hits` counts the requests each base was given, so a test can show that a flow really
    crossed the nodes."""

    def __init__(self, server, bases):
        import secrets
        self._server = server
        # A run id of its own: the helpers name users after it (`f"{name}-{server.run_id}"`), and
        # the flows run here again were already run once by their own modules in this session.
        self.run_id = f"{server.run_id}{secrets.token_hex(4)}"
        self.bases = list(bases)
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self.hits = {base: 0 for base in self.bases}

    def next_base(self) -> str:
        with self._lock:
            base = self.bases[next(self._counter) % len(self.bases)]
            self.hits[base] += 1
            return base

    def url(self, path: str) -> str:
        return self.next_base() + path

    def __getattr__(self, name):
        return getattr(self._server, name)


def database_name(url: str) -> str:
    return urllib.parse.urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def psql(url: str, sql: str, timeout: float = 30) -> str:
    """Runs SQL with psql (the PostgreSQL client the suite's server comes with); returns its output."""
    result = subprocess.run([PSQL, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", url, "-c", sql], capture_output=True,
                            text=True, timeout=timeout, env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
    if result.returncode != 0:
        raise RuntimeError(f"psql failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout.strip()


class ScratchDatabase:
    def __init__(self, url: str):
        self.url = url
        self.name = database_name(url)


def scratch_database(prefix: str = "sa_scratch"):
    """A context manager: a new empty database on the suite's PostgreSQL, dropped afterwards."""
    import contextlib
    import secrets

    @contextlib.contextmanager
    def manager():
        if not conftest.DATABASE_URL:
            pytest.skip("needs PostgreSQL (STRONGAUTH_TEST_DATABASE_URL)")
        if not os.path.exists(PSQL):
            pytest.skip(f"needs psql ({PSQL})")
        name = f"{prefix}_{secrets.token_hex(4)}"
        psql(conftest.DATABASE_URL, f"CREATE DATABASE {name}")
        try:
            yield ScratchDatabase(with_database(conftest.DATABASE_URL, name))
        finally:
            try:
                psql(conftest.DATABASE_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            except Exception:  # noqa: BLE001 (cleanup must not hide the test's own failure)
                pass

    return manager()


def run_cli(workdir: Path, env: dict, database_url: str, *args: str) -> subprocess.CompletedProcess:
    """`strongauth ARGS [--database URL]` in `workdir`, finished (text output, not checked).

    `database_url` "" or None: no --database (the work directory's own SQLite file, or a command
    that is an HTTP client of a server, such as `strongauth device …`)."""
    command = [str(conftest.BINARY), *args]
    if database_url:
        command += ["--database", database_url]
    try:
        return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=conftest.CLI_TIMEOUT)
    except subprocess.TimeoutExpired as timeout:
        pytest.fail(f"`strongauth {' '.join(args)}` did not finish in {conftest.CLI_TIMEOUT:.0f} s:\n"
                    f"stdout:\n{timeout.stdout}\nstderr:\n{timeout.stderr}")


def cli(workdir: Path, env: dict, database_url: str, *args: str) -> dict:
    """`strongauth ARGS [--database URL]` in `workdir` (see `run_cli`); the JSON object it printed.
    A failure, or output that is not one JSON object, fails the test."""
    import json
    result = run_cli(workdir, env, database_url, *args)
    if result.returncode != 0:
        pytest.fail(f"`strongauth {' '.join(args)}` exited {result.returncode}:\n"
                    f"stderr:\n{result.stderr}\nstdout:\n{result.stdout}")
    try:
        output = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        pytest.fail(f"`strongauth {' '.join(args)}` did not print one JSON object ({error}):\n"
                    f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    if not isinstance(output, dict):
        pytest.fail(f"`strongauth {' '.join(args)}` printed JSON that is not an object: {output!r}")
    return output


class Cluster(conftest.Server):
    """Nodes of its own on a database of its own (a `scratch_database()`), in a work directory of
    its own: a `conftest.Server` for the helpers of the other modules, whose `url()` rotates over
    the nodes that are alive and whose `cli()` uses the cluster's database."""

    def __init__(self, workdir: Path, database_url: str, count: int, **extra_env):
        env = conftest.caller_env(conftest.SERVER_ENV, {"STRONGAUTH_MASTER_KEY": conftest.TEST_MASTER_KEY}, extra_env)
        ports = [conftest._free_port() for _ in range(count)]
        env["STRONGAUTH_ISSUER"] = f"http://127.0.0.1:{ports[0]}"
        super().__init__(Path(workdir), ports[0], env, Path(workdir) / "cluster.log", database_url)
        self.nodes = [Node(f"n{index + 1}", workdir, env, port, database_url) for index, port in enumerate(ports)]
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def start(self) -> "Cluster":
        for node in self.nodes:  # all at once: they migrate the empty database together
            node.start(wait=False)
        for node in self.nodes:
            node.wait_ready()
        return self

    def alive(self) -> list:
        return [node for node in self.nodes if node.alive()]

    def next_node(self) -> Node:
        alive = self.alive()
        if not alive:
            pytest.fail("no node of the cluster is alive")
        with self._lock:
            return alive[next(self._counter) % len(alive)]

    def url(self, path: str) -> str:
        return self.next_node().url(path)

    def stop(self) -> list:
        return [node.stop() for node in self.nodes]

    def logs(self) -> str:
        return "\n".join(f"--- {node.name} ({node.base}):\n{node.log_tail()}" for node in self.nodes)


# --- the suite's PostgreSQL server itself -----------------------------------------------------------

POSTGRES_SCRIPT = conftest.ROOT / "scripts" / "postgres.sh"


def _postgres_env() -> dict:
    port = urllib.parse.urlsplit(conftest.DATABASE_URL).port or 5432
    return {**os.environ, "STRONGAUTH_PG_PORT": str(port)}


def postgres_is_ours() -> bool:
    """Whether the suite's PostgreSQL was started by this checkout's scripts/postgres.sh (on the
    URL's port), so that a test may stop and start it."""
    if not conftest.DATABASE_URL:
        return False
    host = urllib.parse.urlsplit(conftest.DATABASE_URL).hostname
    if host not in ("127.0.0.1", "localhost"):
        return False
    result = subprocess.run([str(POSTGRES_SCRIPT), "status"], env=_postgres_env(), capture_output=True, text=True, timeout=30)
    return result.returncode == 0 and result.stdout.startswith("running on")


def postgres_ctl(action: str):
    """scripts/postgres.sh stop|start on the suite's port."""
    result = subprocess.run([str(POSTGRES_SCRIPT), action], env=_postgres_env(), capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"scripts/postgres.sh {action} failed: {result.stderr}")
