"""Two server nodes on one database verify signatures of one phone at once (docs/architecture.md).

A second `strongauth serve` runs beside the session's server on the same database (the same
SQLite file, or the same PostgreSQL). The same signature is presented to both nodes many times in
parallel: exactly one presentation may be valid, because a counter value is accepted by one
conditional update. Wrong PINs sent to both nodes in parallel are counted exactly: the registration
blocks after the 5th, never later, and remainingAttempts never goes below zero.
"""
import concurrent.futures

import pytest

import cluster
from test_powerauth import KNOWLEDGE_FACTORS, activated_phone, app, cloud  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def second_node(server):
    """A second node of the session's server: its work directory, environment and database."""
    with cluster.Node("second", server.workdir, server.env) as node:
        yield node.base


def verify_on(base, cloud, header, body=b"{}"):
    import base64
    response = cloud.session.post(
        base + "/powerauth-cloud/v2/signature/verify",
        json={"method": "POST", "uriId": "/login", "authHeader": header,
              "requestBody": base64.b64encode(body).decode("ascii")},
        timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_one_signature_is_accepted_once_across_two_nodes(server, app, cloud, second_node):
    phone, _ = activated_phone(server, app, cloud)
    nodes = [server.base, second_node]
    for round_ in range(5):
        header = phone.sign("POST", "/login", b"{}", KNOWLEDGE_FACTORS)
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda i: verify_on(nodes[i % 2], cloud, header), range(16)))
        valid = [answer for answer in answers if answer["signatureValid"]]
        assert len(valid) == 1, f"round {round_}: {len(valid)} of 16 presentations were valid"


def test_wrong_pins_on_two_nodes_are_counted_exactly(server, app, cloud, second_node):
    phone, registration = activated_phone(server, app, cloud)
    nodes = [server.base, second_node]
    wrong = bytes(16)
    headers = [phone.sign("POST", "/login", b"{}", KNOWLEDGE_FACTORS, knowledge_key=wrong) for _ in range(12)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda pair: verify_on(nodes[pair[0] % 2], cloud, pair[1]), enumerate(headers)))
    assert not any(answer["signatureValid"] for answer in answers)
    assert all(answer["remainingAttempts"] >= 0 for answer in answers)
    # Exactly five failures were counted: while ACTIVE, each of 4, 3, 2, 1 remaining attempts was
    # reported once; every other answer saw the block.
    active = sorted(answer["remainingAttempts"] for answer in answers if answer["registrationStatus"] == "ACTIVE")
    assert active == [1, 2, 3, 4], answers
    blocked = [answer for answer in answers if answer["registrationStatus"] == "BLOCKED"]
    assert len(blocked) == 8 and all(answer["remainingAttempts"] == 0 for answer in blocked), answers
    shown = cloud.registration(registration["registrationId"])
    assert shown["registrationStatus"] == "BLOCKED" and shown["blockedReason"] == "MAX_FAILED_ATTEMPTS"
    # Even the right PIN is refused now.
    assert not verify_on(second_node, cloud, phone.sign("POST", "/login", b"{}", KNOWLEDGE_FACTORS))["signatureValid"]
