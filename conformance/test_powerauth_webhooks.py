"""Registration callbacks (docs/webhooks.md, PowerAuth Cloud REST API, "registration callbacks") against a real HTTP receiver.

The application is created with a callback URL pointing at a small receiver in this process. The
receiver refuses the first deliveries with 503 and then accepts: every status change must still
arrive, with a valid HMAC-SHA256 signature under the printed callback secret, and a repeated
delivery must carry the same Idempotency-Key (so a receiver can drop it).
"""
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests


class Receiver:
    """Collects POSTs; answers 503 to the first `refuse` of them."""

    def __init__(self, refuse: int):
        self.refuse = refuse
        self.received = []  # (headers, body) of every POST, accepted or not
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.received.append((dict(self.headers), body))
                    refuse = len(receiver.received) <= receiver.refuse
                self.send_response(503 if refuse else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def accepted_events(self):
        with self.lock:
            posts = list(self.received)
        return posts[self.refuse:]

    def wait_for(self, count: int, timeout: float = 30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            events = self.accepted_events()
            if len(events) >= count:
                return events
            time.sleep(0.1)
        pytest.fail(f"the receiver got {len(self.accepted_events())} accepted callbacks, expected {count} "
                    f"(all posts: {len(self.received)})")


@pytest.fixture
def receiver():
    instance = Receiver(refuse=2)
    yield instance
    instance.close()


def verify_signature(headers: dict, body: bytes, secret: str):
    signature = headers.get("X-StrongAuth-Signature", "")
    parts = dict(part.split("=", 1) for part in signature.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected), "the callback's HMAC does not verify under the callback secret"
    assert abs(int(parts["t"]) - time.time()) < 300


def test_registration_callbacks_survive_a_refusing_receiver(server, receiver):
    app_id = server.unique("hooked-app")
    app = server.cli("apps", "create", "--id", app_id, "--callback-url", receiver.url)
    assert app["callbackUrl"] == receiver.url and app["callbackSecret"].startswith("sa_whs_")
    user = server.cli("integration-users", "create", "--name", server.unique("hook-user"), "--app", app_id)
    auth = (user["name"], user["password"])

    user_id = server.unique("end-user")
    created = requests.post(server.url("/powerauth-cloud/v2/registrations"), auth=auth,
                            json={"userId": user_id, "appId": app_id}, timeout=10)
    assert created.status_code == 200, created.text
    registration_id = created.json()["registrationId"]
    removed = requests.delete(server.url(f"/powerauth-cloud/v2/registrations/{registration_id}"), auth=auth, timeout=10)
    assert removed.status_code == 200, removed.text

    events = receiver.wait_for(2)
    statuses = []
    for headers, body in events:
        assert headers["Content-Type"] == "application/json"
        verify_signature(headers, body, app["callbackSecret"])
        event = json.loads(body)
        assert event["registrationId"] == registration_id and event["userId"] == user_id
        assert event["applicationId"] == app_id and event["eventId"] == headers["Idempotency-Key"]
        statuses.append(event["registrationStatus"])
    assert sorted(statuses) == ["CREATED", "REMOVED"]

    # The refused deliveries were the same events again: same idempotency keys, nothing extra.
    keys = [headers["Idempotency-Key"] for headers, _ in receiver.received]
    assert set(keys) == {headers["Idempotency-Key"] for headers, _ in events}
    assert len(receiver.received) == 4
