"""Webhooks of the approval engine (docs/webhooks.md) against real HTTP receivers.

- Operation callbacks while the receiver is down: polling and the delivery log keep working, and
  once the receiver is back every event arrives, signed, each with its own Idempotency-Key.
- Action request callbacks to an OAuth client's webhook URL (Shine clients), signed with the
  client's webhook secret, never carrying the short-lived token.
- `kill -9` of the server while it waits on the receiver: the next server on the same data
  delivers the event again, with the same Idempotency-Key, once the dead node's lease ran out.
"""
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

import cluster
from conftest import _free_port, caller_env
from test_action_requests import approve_on_phone, username_of
from test_devices import Phone, app, bind, user_session  # noqa: F401 (app is a fixture)
from test_powerauth_webhooks import verify_signature


class Receiver:
    """An HTTP receiver on a given port. `hang_first` makes it read the first POST and then not
    answer until it is closed (a receiver the sender has to wait on)."""

    def __init__(self, port: int, hang_first: bool = False):
        self.received = []  # (headers, body), in arrival order
        self.lock = threading.Lock()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.received.append((dict(self.headers), body))
                    hang = hang_first and len(receiver.received) == 1
                if hang:
                    receiver.release.wait(60)
                    return
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def posts(self):
        with self.lock:
            return list(self.received)

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate(self.posts()):
                return self.posts()
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}; received {len(self.posts())} posts")


def distinct_events(posts):
    """The events by the signed body's eventId, as a receiver must dedupe (a repeat of one
    delivery counts once); the unsigned Idempotency-Key header carries the same value."""
    events = {}
    for headers, body in posts:
        event_id = json.loads(body)["eventId"]
        assert headers["Idempotency-Key"] == event_id, (headers, body)
        events[event_id] = (headers, body)
    return events


def test_operation_callbacks_wait_for_a_receiver_that_is_down(server):
    port = _free_port()  # nothing listens here yet: the receiver is down
    url = f"http://127.0.0.1:{port}/hooks"
    app_id = server.unique("down-app")
    created_app = server.cli("apps", "create", "--id", app_id, "--callback-url", url)
    integration = server.cli("integration-users", "create", "--name", server.unique("down-user"), "--app", app_id)
    auth = (integration["name"], integration["password"])

    operation_ids = []
    for index in range(3):
        created = requests.post(server.url("/powerauth-cloud/v2/operations"), auth=auth, timeout=10, json={
            "userId": server.unique(f"payer-{index}"), "template": "default.payment",
            "parameters": {"amount": f"{index + 1}00.00", "currency": "EUR", "account": "AT483200000012345864"}})
        assert created.status_code == 200, created.text
        operation_ids.append(created.json()["operationId"])
    canceled = requests.delete(server.url(f"/powerauth-cloud/v2/operations/{operation_ids[0]}"), auth=auth, timeout=10)
    assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED", canceled.text

    # While the receiver is down: attempts fail and are logged, polling answers as always.
    deadline = time.time() + 15
    while True:
        log = requests.get(server.url("/powerauth-cloud/v2/webhooks/deliveries"), auth=auth, timeout=10)
        assert log.status_code == 200, log.text
        deliveries = log.json()["deliveries"]
        if len(deliveries) == 4 and all(d["attempts"] >= 1 and d.get("lastError") for d in deliveries):
            break
        assert time.time() < deadline, f"no failed attempts logged: {deliveries}"
        time.sleep(0.2)
    assert all(d["status"] == "pending" for d in deliveries)
    polled = requests.get(server.url(f"/powerauth-cloud/v2/operations/{operation_ids[1]}"), auth=auth, timeout=10)
    assert polled.status_code == 200 and polled.json()["status"] == "PENDING"
    time.sleep(2)

    receiver = Receiver(port)
    try:
        posts = receiver.wait_for(lambda p: len(distinct_events(p)) >= 4, 60, "4 operation callbacks")
        events = distinct_events(posts)
        seen = []
        for key, (headers, body) in events.items():
            verify_signature(headers, body, created_app["callbackSecret"])
            event = json.loads(body)
            assert event["eventId"] == key and event["type"] == "OPERATION_STATUS_CHANGED"
            assert event["applicationId"] == app_id and event["operationId"] in operation_ids
            seen.append((event["operationId"], event["status"]))
        assert sorted(seen) == sorted([(operation_ids[0], "PENDING"), (operation_ids[0], "CANCELED"),
                                       (operation_ids[1], "PENDING"), (operation_ids[2], "PENDING")])
        assert {d["id"] for d in deliveries} == set(events)
        deadline = time.time() + 10
        while True:
            statuses = [d["status"] for d in requests.get(server.url("/powerauth-cloud/v2/webhooks/deliveries"), auth=auth,
                                                          timeout=10).json()["deliveries"]]
            if statuses == ["delivered"] * 4:
                break
            assert time.time() < deadline, statuses
            time.sleep(0.2)
    finally:
        receiver.close()


def test_action_request_callbacks_go_to_the_clients_webhook(server, app):
    port = _free_port()
    receiver = Receiver(port)
    try:
        hooked = server.cli("clients", "create", "--id", server.unique("hooked-client"), "--grants", "client_credentials",
                            "--webhook-url", f"http://127.0.0.1:{port}/shine")
        assert hooked["webhookSecret"].startswith("sa_whs_") and hooked["webhookUrl"].endswith("/shine")
        headers, number = user_session(server, app, "hooked")
        phone = Phone()
        device_id = bind(server, headers, phone, number)
        uid = username_of(headers, server)
        created = requests.post(server.url("/v2/authentication/oauth2/action_request"), timeout=10, json={
            "action": "bank:transfers:create", "client_id": hooked["clientId"], "client_secret": hooked["clientSecret"],
            "uid": uid, "payload": {"amount": 42, "bankTransferRecipientId": "R"}})
        assert created.status_code == 201, created.text
        request_id = created.json()["data"]["authenticationActionRequestId"]
        approve_on_phone(server, headers, phone, device_id, request_id)

        posts = receiver.wait_for(lambda p: len(distinct_events(p)) >= 2, 30, "2 action request callbacks")
        statuses = []
        for key, (hook_headers, body) in distinct_events(posts).items():
            verify_signature(hook_headers, body, hooked["webhookSecret"])
            event = json.loads(body)
            assert event["type"] == "ACTION_REQUEST_STATUS_CHANGED" and event["eventId"] == key
            assert event["actionRequestId"] == request_id and event["clientId"] == hooked["clientId"]
            assert "token" not in event and b"sa_st_" not in body
            statuses.append(event["status"])
        assert sorted(statuses) == ["CONFIRMED", "PENDING"]

        log = requests.get(server.url("/v2/webhooks/deliveries"), auth=(hooked["clientId"], hooked["clientSecret"]), timeout=10)
        assert log.status_code == 200 and {d["eventType"] for d in log.json()["deliveries"]} == {"ACTION_REQUEST_STATUS_CHANGED"}
        # The client of the `app` fixture has no webhook and sees none of these.
        other = requests.get(server.url("/v2/webhooks/deliveries"), auth=app, timeout=10)
        assert other.status_code == 200 and other.json()["deliveries"] == []
    finally:
        receiver.close()


ENV = caller_env(STRONGAUTH_PASSWORD_HASH_COST=4, STRONGAUTH_WEBHOOKS_LEASE_SECONDS=3)


def test_a_callback_in_flight_survives_kill_9_of_the_server():
    """Own server on its own SQLite data (the suite's server must not deliver these)."""
    workdir = Path(tempfile.mkdtemp(prefix="strongauth-webhook-kill-"))
    receiver_port = _free_port()
    receiver = Receiver(receiver_port, hang_first=True)
    # Both nodes on the work directory's own SQLite file, one after the other.
    first = cluster.Node("first", workdir, ENV, database_url="")
    second = cluster.Node("second", workdir, ENV, database_url="")
    try:
        created_app = first.cli("apps", "create", "--id", "kill-app", "--callback-url", f"http://127.0.0.1:{receiver_port}/h")
        integration = first.cli("integration-users", "create", "--name", "kill-user", "--app", "kill-app")
        auth = (integration["name"], integration["password"])

        first.start()
        created = requests.post(first.url("/powerauth-cloud/v2/operations"), auth=auth, timeout=10,
                                json={"userId": "victim", "template": "default.login"})
        assert created.status_code == 200, created.text
        operation_id = created.json()["operationId"]

        # The server is now waiting on the receiver's answer: kill it mid-delivery.
        posts = receiver.wait_for(lambda p: len(p) >= 1, 15, "the first delivery attempt")
        key = posts[0][0]["Idempotency-Key"]
        first.kill()

        second.start()
        # The acknowledged operation survived, and its callback is delivered again, same key.
        polled = requests.get(second.url(f"/powerauth-cloud/v2/operations/{operation_id}"), auth=auth, timeout=10)
        assert polled.status_code == 200 and polled.json()["status"] == "PENDING", polled.text
        posts = receiver.wait_for(lambda p: len(p) >= 2, 30, "the delivery after the restart")
        assert [headers["Idempotency-Key"] for headers, _ in posts[:2]] == [key, key]
        verify_signature(posts[1][0], posts[1][1], created_app["callbackSecret"])
        assert json.loads(posts[1][1])["operationId"] == operation_id
        deadline = time.time() + 10
        while True:
            log = requests.get(second.url("/powerauth-cloud/v2/webhooks/deliveries"), auth=auth, timeout=10).json()
            if log["deliveries"][0]["status"] == "delivered":
                break
            assert time.time() < deadline, log
            time.sleep(0.2)
        assert log["deliveries"][0]["id"] == key and log["deliveries"][0]["attempts"] == 2
    finally:
        for node in (first, second):
            node.stop()
        receiver.close()
