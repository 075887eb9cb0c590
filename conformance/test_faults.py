"""Faults under load, on PostgreSQL (docs/architecture.md).

1. `kill -9` of one of three nodes while clients create and approve operations round-robin: every
   operation acknowledged with a 2xx exists afterwards with its final status, none is approved twice
   (each approval is sent to two nodes at once, and the audit log has one decision), and every
   webhook of the outbox reaches the receiver, delivered by the surviving nodes (deliveries the dead
   node held are sent again when their lease runs out).
2. PostgreSQL stopped and started again under load (`scripts/postgres.sh stop` / `start`, only
   when the suite's PostgreSQL is the one this checkout started): meanwhile the nodes answer
   `/ready` with 503 and requests fail fast; afterwards they are ready again without a restart, and
   serve.

Each test runs its own cluster on a database of its own (`cluster.scratch_database()`), so the
session's server neither takes part in the load nor delivers the cluster's webhooks.
"""
import concurrent.futures
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

import cluster
import conftest
from test_devices import Phone, bind, user_session
from test_powerauth_webhooks import verify_signature

pytestmark = pytest.mark.skipif(
    not conftest.DATABASE_URL,
    reason="fault tests need PostgreSQL (the PostgreSQL pass sets STRONGAUTH_TEST_DATABASE_URL): "
           "several nodes and a database server to stop")


class HoldingReceiver:
    """A webhook receiver that records every POST on arrival and answers 204 — except while
    `hold()` is on: then it keeps the sender waiting until `release()`. Holding just before a
    `kill -9` leaves the victim node with deliveries in flight, which the survivors must send
    again once the dead node's lease runs out. Each POST is recorded with the sender's source
    port, so the test can tell which held deliveries are the victim's (`held_from`)."""

    def __init__(self):
        self.posts = []  # (headers, body, sender's source port)
        self.held = {}  # sender's source port -> Idempotency-Key, while its POST is held
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.released.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                port = self.client_address[1]
                with receiver.lock:
                    receiver.posts.append((dict(self.headers), body, port))
                    if not receiver.released.is_set():
                        receiver.held[port] = self.headers["Idempotency-Key"]
                receiver.released.wait(30)
                with receiver.lock:
                    receiver.held.pop(port, None)
                try:
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender died meanwhile

            def log_message(self, *args):
                pass

        self.port = conftest._free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold(self):
        self.released.clear()

    def held_from(self, ports: set) -> set:
        """The Idempotency-Keys of the POSTs held right now whose sender uses one of `ports`."""
        with self.lock:
            return {key for port, key in self.held.items() if port in ports}

    def release(self):
        self.released.set()

    def events(self) -> dict:
        """Distinct events by Idempotency-Key."""
        with self.lock:
            return {headers["Idempotency-Key"]: (headers, body) for headers, body, _ in self.posts}

    def post_count(self, key: str) -> int:
        with self.lock:
            return sum(1 for headers, _, _ in self.posts if headers["Idempotency-Key"] == key)

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def workdir():
    return Path(tempfile.mkdtemp(prefix="strongauth-faults-"))


def local_tcp_ports(pid: int) -> set:
    """The local ports of the TCP sockets process `pid` has open (Linux: its fds' socket inodes,
    looked up in /proc/net/tcp{,6})."""
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = (fd_dir / fd.name).readlink()
        except OSError:
            continue  # closed meanwhile
        if str(target).startswith("socket:["):
            inodes.add(str(target)[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def payment(index: int) -> dict:
    return {"amount": f"{index + 1}.00", "currency": "EUR", "account": "DE89370400440532013000"}


def payment_data(parameters: dict) -> str:
    """What the default.payment template renders (`A1*A${amount}${currency}*I${account}`)."""
    return f"A1*A{parameters['amount']}{parameters['currency']}*I{parameters['account']}"


def test_kill_9_of_a_node_under_load_loses_nothing_acknowledged(workdir):
    receiver = HoldingReceiver()
    with cluster.scratch_database("sa_faults_kill") as database:
        nodes = cluster.Cluster(workdir, database.url, 3, STRONGAUTH_WEBHOOKS_LEASE_SECONDS=3).start()
        try:
            _kill_9_under_load(nodes, database, receiver)
        except BaseException:
            print(nodes.logs())
            raise
        finally:
            codes = [node.stop() for node in nodes.alive()]
            receiver.close()
        assert codes == [0, 0], f"the surviving nodes did not stop cleanly: {codes}\n{nodes.logs()}"


def _kill_9_under_load(nodes, database, receiver):
    app_id = "faults-app"
    app = nodes.cli("apps", "create", "--id", app_id, "--callback-url", f"http://127.0.0.1:{receiver.port}/hooks")
    integration = nodes.cli("integration-users", "create", "--name", "faults-user", "--app", app_id)
    auth = (integration["name"], integration["password"])
    client = nodes.create_client("faults-phone-app")
    headers, number = user_session(nodes, client, "faults")
    phone = Phone()
    device_id = bind(nodes, headers, phone, number)
    user_id = f"faults-{nodes.run_id}"  # user_session's username: the bank's id of the user

    created = {}  # operation id -> parameters, for every 2xx create
    approved = {}  # operation id -> number of 2xx approvals
    lock = threading.Lock()
    victim = nodes.nodes[1]
    stop_at = time.monotonic() + 10
    killed_at = time.monotonic() + 3

    def post(path, **kwargs):
        """One request to the next live node; None when the node died under it."""
        try:
            return requests.post(nodes.url(path), timeout=15, **kwargs)
        except requests.RequestException:
            return None

    def worker(worker_index: int):
        index = 0
        while time.monotonic() < stop_at:
            parameters = payment(worker_index * 10_000 + index)
            index += 1
            response = post("/powerauth-cloud/v2/operations", auth=auth,
                            json={"userId": user_id, "template": "default.payment", "parameters": parameters})
            if response is None or response.status_code != 200:
                assert response is None or response.status_code < 500 or not victim.alive(), response.text
                continue
            operation_id = response.json()["operationId"]
            with lock:
                created[operation_id] = parameters
            if index % 4 == 0:
                continue  # some stay PENDING
            data = payment_data(parameters)
            answer = {"deviceId": device_id, "data": data, "signature": phone.sign(f"approve:{operation_id}:{data}")}
            # The same approval on two nodes at once: one decision at most.
            with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pair:
                answers = list(pair.map(lambda _: post(f"/api/user/approvals/{operation_id}/approve", headers=headers,
                                                       json=answer), range(2)))
            wins = sum(1 for answer_ in answers if answer_ is not None and answer_.status_code == 200)
            with lock:
                approved[operation_id] = wins

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(worker, index) for index in range(4)]
        while time.monotonic() < killed_at - 1:
            time.sleep(0.05)
        receiver.hold()  # deliveries pile up in flight on every node…
        # …until the victim holds some (under its 5 s read timeout; on a slow machine the other
        # nodes may claim every due delivery for a while)…
        held_deadline = time.monotonic() + 4
        victim_held = set()
        while not victim_held and time.monotonic() < held_deadline:
            time.sleep(0.1)
            victim_held = receiver.held_from(local_tcp_ports(victim.process.pid))
        before = len(created)
        victim.kill()  # …and the victim dies with its own
        receiver.release()
        for future in futures:
            future.result()

    assert before > 0 and len(created) > before, f"the load did not go on around the kill: {before} then {len(created)}"
    print(f"kill -9 under load: {before} operations before the kill, {len(created)} in all, "
          f"{sum(1 for wins in approved.values() if wins == 1)} approved")
    assert all(wins <= 1 for wins in approved.values()), {key: wins for key, wins in approved.items() if wins > 1}

    # Every acknowledged operation exists, with its final status, on every surviving node.
    survivors = nodes.alive()
    assert len(survivors) == 2
    for index, (operation_id, parameters) in enumerate(created.items()):
        node = survivors[index % 2]
        shown = requests.get(node.url(f"/powerauth-cloud/v2/operations/{operation_id}"), auth=auth, timeout=10)
        assert shown.status_code == 200, (operation_id, shown.text)
        status = shown.json()["status"]
        if approved.get(operation_id) == 1:
            assert status == "APPROVED", (operation_id, shown.json())
        else:  # not approved, or an approval whose answer died with the node: PENDING or APPROVED
            assert status in ("PENDING", "APPROVED"), (operation_id, shown.json())
        assert shown.json()["parameters"] == parameters

    # No operation was approved twice: one decision in the audit log for each APPROVED one.
    decisions = cluster.psql(database.url, "SELECT subject, count(*) FROM (SELECT subject FROM audit_journal "
                                           "WHERE action = 'approval.approved' UNION ALL SELECT subject FROM audit_events "
                                           "WHERE action = 'approval.approved') AS decided GROUP BY subject")
    counts = {line.split("|")[0].removeprefix("approval:"): int(line.split("|")[1]) for line in decisions.splitlines() if line}
    assert all(count == 1 for count in counts.values()), counts
    assert {op for op, wins in approved.items() if wins == 1} <= set(counts)

    # The outbox finishes: every delivery is delivered, by the surviving nodes, each signed.
    deadline = time.monotonic() + 45  # a delivery the dead node held waits out its 3 s lease
    while True:
        rows = cluster.psql(database.url, "SELECT status, count(*) FROM webhook_deliveries GROUP BY status")
        by_status = dict(line.split("|") for line in rows.splitlines() if line)
        if set(by_status) == {"delivered"}:
            break
        assert time.monotonic() < deadline, f"the outbox did not finish: {by_status}\n{nodes.logs()}"
        time.sleep(0.25)
    events = receiver.events()
    print(f"outbox: {len(receiver.posts)} posts for {len(events)} deliveries; {len(victim_held)} held by the victim at its death")
    # Deliveries the victim had in flight were sent again by the survivors, with the same key.
    assert victim_held, "no delivery was in flight on the killed node within 4 s of holding: the test proved nothing"
    assert all(receiver.post_count(key) >= 2 for key in victim_held), \
        {key: receiver.post_count(key) for key in victim_held}
    expected = cluster.psql(database.url, "SELECT id FROM webhook_deliveries").split()
    assert set(events) == set(expected), f"{len(set(expected) - set(events))} deliveries never reached the receiver"
    seen = {}
    for headers_, body in events.values():
        verify_signature(headers_, body, app["callbackSecret"])
        event = json.loads(body)
        seen.setdefault(event["operationId"], set()).add(event["status"])
    for operation_id in created:
        assert "PENDING" in seen.get(operation_id, set()), operation_id
    for operation_id, wins in approved.items():
        if wins == 1:
            assert "APPROVED" in seen[operation_id], operation_id


def test_postgres_restart_under_load_nodes_report_not_ready_and_recover(server, workdir):
    if not cluster.postgres_is_ours():
        pytest.skip("the suite's PostgreSQL was not started by this checkout's scripts/postgres.sh; not stopping it")
    with cluster.scratch_database("sa_faults_restart") as database:
        nodes = cluster.Cluster(workdir, database.url, 2).start()
        try:
            _restart_under_load(nodes, server)
        except BaseException:
            print(nodes.logs())
            raise
        finally:
            codes = nodes.stop()
        assert codes == [0, 0], f"the nodes did not stop cleanly: {codes}\n{nodes.logs()}"


def _restart_under_load(nodes, server):
    client_id, client_secret = nodes.create_client("restart")
    username, _ = nodes.create_user("restart", "restart-password")

    outcomes = []  # (phase the request began in, phase it ended in, status code or exception name, seconds)
    phase = {"name": "before"}
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            began_in = phase["name"]
            started = time.monotonic()
            try:
                code = requests.post(nodes.url("/oauth/token"), auth=(client_id, client_secret), timeout=20,
                                     data={"grant_type": "password", "username": username,
                                           "password": "restart-password"}).status_code
            except requests.RequestException as error:
                code = type(error).__name__
            outcomes.append((began_in, phase["name"], code, time.monotonic() - started))
            time.sleep(0.02)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        phase["name"] = "down"
        cluster.postgres_ctl("stop")
        try:
            # Every node says it is not ready, promptly (a load balancer's health check times out).
            deadline = time.monotonic() + 15
            for node in nodes.nodes:
                while True:
                    started = time.monotonic()
                    status = node.ready_status(timeout=5)
                    if status == 503:
                        assert time.monotonic() - started < 5
                        break
                    assert time.monotonic() < deadline, f"{node.name} still answers /ready with {status}"
                    time.sleep(0.2)
            time.sleep(2)  # the load goes on against a database that is down
        finally:
            phase["name"] = "recovering"
            cluster.postgres_ctl("start")
        # Ready again, by themselves: no node was restarted.
        pids = [node.process.pid for node in nodes.nodes]
        for node in nodes.nodes:
            node.wait_ready(timeout=30)
        server.node.wait_ready(timeout=30)  # the session's server recovers too
        phase["name"] = "after"
        time.sleep(2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert [node.process.pid for node in nodes.nodes] == pids and all(node.alive() for node in nodes.nodes)

    by_phase = {}
    for began, ended, code, seconds in outcomes:
        by_phase.setdefault(ended, []).append((code, seconds))
    # A request is the outage's if it began or ended while the database was down: one that began
    # as PostgreSQL stopped and is answered only after it is back (its connection died under it)
    # is a 503 of the outage, not of a recovered node.
    before = by_phase.get("before", [])
    down = [(code, seconds) for began, ended, code, seconds in outcomes if "down" in (began, ended)]
    after = [(code, seconds) for began, ended, code, seconds in outcomes if ended == "after" and began != "down"]
    print("PostgreSQL restart under load:", {name: (len(items), sorted({str(code) for code, _ in items}),
                                                    round(max(seconds for _, seconds in items), 2))
                                             for name, items in by_phase.items()})
    assert before and all(code == 200 for code, _ in before), before
    # While the database is down, requests fail fast with 503, never hang and never look like success.
    assert down and all(code == 503 for code, _ in down if code != 200), down
    assert all(seconds < 10 for _, seconds in down), down
    assert after and all(code == 200 for code, _ in after), after

