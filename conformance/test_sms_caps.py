"""SMS pumping (SECURITY.md): OTP SMS are capped per user and per phone number, and unfinished
devices per user, on two nodes that share one database (PostgreSQL; on SQLite two processes on
one file). Concurrent device bindings spread over both nodes send at most the cap; the rest are
429 problem+json with Retry-After, and nothing is sent for them.

The session's server runs with caps raised for the other modules' bursts (conftest.SERVER_ENV);
the two nodes here run with the caps under test."""
import concurrent.futures
import time

import pytest
import requests

import cluster
from test_devices import Phone, sms_count, user_session


def start_nodes(server, name, **caps):
    nodes = [cluster.Node(f"{name}{index}", server.workdir, cluster.peer_env(server, **caps)) for index in (1, 2)]
    for node in nodes:
        node.start()
    return nodes


def stop_nodes(nodes):
    codes = [node.stop() for node in nodes]
    assert codes == [0, 0], f"the nodes did not stop cleanly: {codes}\n" + "\n".join(node.log_tail() for node in nodes)


def bind_at_once(nodes, sessions, count):
    """`count` POST /api/user/devices at once, round-robin over nodes and `sessions` (headers)."""
    def create(index):
        return requests.post(nodes[index % len(nodes)].url("/api/user/devices"), headers=sessions[index % len(sessions)], timeout=30,
                             json={"name": "Phone", "key": Phone().public_key_hex})
    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(create, range(count)))


def assert_refusals(responses, created, max_retry_after):
    codes = [response.status_code for response in responses]
    assert codes.count(201) == created and codes.count(429) == len(codes) - created, codes
    for response in responses:
        if response.status_code == 429:
            assert response.headers["Content-Type"].startswith("application/problem+json"), response.headers
            assert response.json()["status"] == 429
            assert 1 <= int(response.headers["Retry-After"]) <= max_retry_after, response.headers["Retry-After"]


def settled_sms_count(server, number, expected, timeout=5.0):
    """The SMS to `number` once `expected` arrived (or the timeout passed), and a second later:
    the outbox of every node has been delivered, nothing more is on its way."""
    deadline = time.time() + timeout
    while sms_count(server, number) < expected and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    return sms_count(server, number)


def test_concurrent_bindings_over_two_nodes_send_at_most_the_per_user_cap(server):
    nodes = start_nodes(server, "smscap-user", STRONGAUTH_SMS_OTP_PER_USER_PER_HOUR=5, STRONGAUTH_SMS_OTP_PER_PHONE_PER_HOUR=100,
                        STRONGAUTH_DEVICES_MAX_PENDING_PER_USER=100)
    try:
        app = server.create_client("smscap-user")
        headers, number = user_session(server, app, "smscap-user")
        assert_refusals(bind_at_once(nodes, [headers], 12), created=5, max_retry_after=3600)
        assert settled_sms_count(server, number, 5) == 5
    finally:
        stop_nodes(nodes)


def test_concurrent_bindings_of_users_sharing_a_number_send_at_most_the_per_phone_cap(server):
    nodes = start_nodes(server, "smscap-phone", STRONGAUTH_SMS_OTP_PER_USER_PER_HOUR=100, STRONGAUTH_SMS_OTP_PER_PHONE_PER_HOUR=5,
                        STRONGAUTH_DEVICES_MAX_PENDING_PER_USER=100)
    try:
        app = server.create_client("smscap-phone")
        number = "+49170" + str(abs(hash(("smscap-phone", server.run_id))) % 10**7).zfill(7)
        sessions = []
        for index in range(4):
            username = server.cli("users", "create", "--username", f"smscap-phone-{index}-{server.run_id}", "--password", "user-password",
                                  "--phone", number)["username"]
            token = requests.post(server.url("/oauth/token"), auth=app, timeout=10,
                                  data={"grant_type": "password", "username": username, "password": "user-password"}).json()
            sessions.append({"Authorization": "Bearer " + token["access_token"]})
        assert_refusals(bind_at_once(nodes, sessions, 12), created=5, max_retry_after=3600)
        assert settled_sms_count(server, number, 5) == 5
    finally:
        stop_nodes(nodes)


def test_concurrent_bindings_over_two_nodes_leave_at_most_the_pending_cap(server):
    nodes = start_nodes(server, "smscap-pending", STRONGAUTH_SMS_OTP_PER_USER_PER_HOUR=100, STRONGAUTH_SMS_OTP_PER_PHONE_PER_HOUR=100,
                        STRONGAUTH_DEVICES_MAX_PENDING_PER_USER=3)
    try:
        app = server.create_client("smscap-pending")
        headers, number = user_session(server, app, "smscap-pending")
        # A place frees when the oldest unfinished binding can no longer finish (OTP 300 s + approval 3 s).
        assert_refusals(bind_at_once(nodes, [headers], 12), created=3, max_retry_after=303)
        assert settled_sms_count(server, number, 3) == 3
        devices = requests.get(nodes[0].url("/api/user/devices"), headers=headers, timeout=10).json()
        assert [device["status"] for device in devices] == ["CREATED"] * 3
    finally:
        stop_nodes(nodes)


def test_the_binding_sms_carries_no_device_name(server):
    app = server.create_client("smscap-name")
    headers, number = user_session(server, app, "smscap-name")
    response = requests.post(server.url("/api/user/devices"), headers=headers, timeout=10,
                             json={"name": "WIN A PRIZE call 0900 123", "key": Phone().public_key_hex})
    assert response.status_code == 201, response.text
    server.sms_to(number)
    path = server.workdir / "data" / "notifications.jsonl"
    import json
    messages = [json.loads(line)["message"] for line in path.read_text().splitlines() if json.loads(line)["to"] == number]
    assert messages and not any("PRIZE" in message or "0900" in message for message in messages), messages
