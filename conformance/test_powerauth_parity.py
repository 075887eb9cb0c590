"""PowerAuth parity and abuse resistance (SECURITY.md), driven like a mobile SDK and an integrator.

- Whoever knows an activation id cannot block it: garbage `possession_knowledge` signatures are
  refused without counting (the possession component is checked first); the real phone's wrong
  PINs are still counted and block at 5.
- A MAC token header (`X-PowerAuth-Token`) is accepted once, by whichever node sees it first, and
  only within the reference's timestamp window (2 h back, 30 min ahead).
- Wrong-PIN authorizations through the mobile token API count on the operation (FAILED at 5),
  answered in the enrollment server's Mobile Token API codes.
- The status of an unknown activation id is answered like any other (no existence oracle).

Runs on SQLite and PostgreSQL; the second node shares the session's database.
"""
import base64
import concurrent.futures
import json
import os
import random
import time

import requests

import powerauth_phone as pa
from test_powerauth import KNOWLEDGE_FACTORS, activated_phone, app, assert_powerauth_error, cloud  # noqa: F401 (fixtures)
from test_powerauth_two_nodes import second_node, verify_on  # noqa: F401 (fixture)

TIMEOUT = 30
MOBILE = "/enrollment-server/api/auth/token/app/operation"


def garbage_header(phone, signature: str) -> str:
    """What someone who knows only the activation id (and the app key, public in the app) sends."""
    nonce = base64.b64encode(os.urandom(16)).decode()
    return (f'PowerAuth pa_activation_id="{phone.activation_id}", pa_application_key="{phone.app_key}", '
            f'pa_nonce="{nonce}", pa_signature_type="possession_knowledge", pa_signature="{signature}", pa_version="3.1"')


def random_digits() -> str:
    return "-".join(f"{random.randrange(100_000_000):08d}" for _ in range(2))


def mobile(base: str, path: str, body: bytes, header: tuple):
    return requests.post(base + MOBILE + path, data=body, timeout=TIMEOUT,
                         headers={"Content-Type": "application/json", header[0]: header[1]})


def test_seven_garbage_signatures_leave_the_registration_active_five_wrong_pins_block(server, app, cloud, second_node):
    phone, registration = activated_phone(server, app, cloud)
    nodes = [server.base, second_node]
    headers = [garbage_header(phone, random_digits()) for _ in range(5)]
    headers += [garbage_header(phone, base64.b64encode(os.urandom(32)).decode()) for _ in range(2)]
    for index, header in enumerate(headers):
        answer = verify_on(nodes[index % 2], cloud, header)
        assert answer["signatureValid"] is False, answer
        assert (answer["registrationStatus"], answer["remainingAttempts"]) == ("ACTIVE", 5), answer
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "ACTIVE"
    # The phone still signs.
    assert verify_on(second_node, cloud, phone.sign("POST", "/login", b"{}", KNOWLEDGE_FACTORS))["signatureValid"] is True

    # Whoever has the device and guesses the PIN is counted, and blocked at the 5th.
    for remaining in [4, 3, 2, 1, 0]:
        answer = verify_on(nodes[remaining % 2], cloud,
                           phone.sign("POST", "/login", b"{}", KNOWLEDGE_FACTORS, knowledge_key=os.urandom(16)))
        assert answer["signatureValid"] is False and answer["remainingAttempts"] == remaining, answer
    shown = cloud.registration(registration["registrationId"])
    assert (shown["registrationStatus"], shown["blockedReason"]) == ("BLOCKED", "MAX_FAILED_ATTEMPTS")


def test_a_mac_token_header_is_accepted_once_across_two_nodes(server, app, cloud, second_node):
    phone, _ = activated_phone(server, app, cloud)
    token_id, token_secret = phone.create_token()
    nodes = [server.base, second_node]

    header = ("X-PowerAuth-Token", phone.token_header(token_id, token_secret))
    first = mobile(server.base, "/list", b"{}", header)
    assert first.status_code == 200, first.text
    again = mobile(second_node, "/list", b"{}", header)
    assert again.status_code == 401, again.text
    assert_powerauth_error(again, "POWERAUTH_AUTH_FAIL")
    # Nor does the integration API accept it again.
    assert cloud.verify_token(header[1])["tokenValid"] is False

    # One header presented 12 times at once on both nodes: exactly one is accepted.
    header = ("X-PowerAuth-Token", phone.token_header(token_id, token_secret))
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda index: mobile(nodes[index % 2], "/list", b"{}", header).status_code, range(12)))
    assert sorted(statuses) == [200] + [401] * 11, statuses
    # A fresh nonce is fine.
    assert mobile(second_node, "/list", b"{}", ("X-PowerAuth-Token", phone.token_header(token_id, token_secret))).status_code == 200


def test_token_timestamps_may_be_two_hours_old_and_thirty_minutes_ahead(server, app, cloud):
    phone, _ = activated_phone(server, app, cloud)
    token_id, token_secret = phone.create_token()
    now = int(time.time() * 1000)

    def valid(offset_seconds: int) -> bool:
        return cloud.verify_token(phone.token_header(token_id, token_secret, timestamp_ms=now + offset_seconds * 1000))["tokenValid"]

    assert valid(3600) is False  # 1 h ahead
    assert valid(31 * 60) is False
    assert valid(25 * 60) is True
    assert valid(-(2 * 3600 - 120)) is True
    assert valid(-(2 * 3600 + 120)) is False


def test_wrong_pin_authorizations_fail_the_operation(server, app, cloud, second_node):
    phone, registration = activated_phone(server, app, cloud)
    token_id, token_secret = phone.create_token()
    created = cloud.session.post(cloud.url("/operations"), timeout=TIMEOUT, data=json.dumps({
        "userId": registration["userId"], "template": "default.payment",
        "parameters": {"amount": "12.00", "currency": "EUR", "account": "DE89370400440532013000"}}))
    assert created.status_code == 200, created.text
    operation_id = created.json()["operationId"]
    listed = mobile(server.base, "/list", b"{}", ("X-PowerAuth-Token", phone.token_header(token_id, token_secret)))
    assert listed.status_code == 200, listed.text
    data = next(item["data"] for item in listed.json()["responseObject"] if item["id"] == operation_id)
    body = json.dumps({"requestObject": {"id": operation_id, "data": data}}).encode()
    nodes = [server.base, second_node]

    def operation():
        answer = cloud.session.get(cloud.url(f"/operations/{operation_id}"), timeout=TIMEOUT).json()
        return answer["status"], answer["failureCount"]

    # Without the device: refused in the Mobile Token API's code, counted nowhere.
    for index in range(3):
        refused = mobile(nodes[index % 2], "/authorize", body, ("X-PowerAuth-Authorization", garbage_header(phone, random_digits())))
        assert refused.status_code == 401, refused.text
        assert_powerauth_error(refused, "POWERAUTH_AUTH_FAIL")
    assert operation() == ("PENDING", 0)

    for count in range(1, 6):
        wrong = phone.sign("POST", "/operation/authorize", body, KNOWLEDGE_FACTORS, knowledge_key=os.urandom(16))
        refused = mobile(nodes[count % 2], "/authorize", body, ("X-PowerAuth-Authorization", wrong))
        assert refused.status_code == 401, refused.text
        assert_powerauth_error(refused, "POWERAUTH_AUTH_FAIL")
        assert operation() == ("FAILED" if count == 5 else "PENDING", count)


def test_unknown_activation_status_is_answered_like_a_known_one(server, app, cloud):
    phone, _ = activated_phone(server, app, cloud)
    for activation_id in [phone.activation_id, "5a3c5f1e-0000-4000-8000-000000000000"]:
        body = json.dumps({"requestObject": {"activationId": activation_id, "challenge": pa.b64e(os.urandom(16))}}).encode()
        response = requests.post(server.url("/enrollment-server/pa/v3/activation/status"), data=body, timeout=TIMEOUT,
                                 headers={"Content-Type": "application/json"})
        assert response.status_code == 200, response.text
        answer = response.json()["responseObject"]
        assert answer["activationId"] == activation_id
        assert len(pa.b64d(answer["encryptedStatusBlob"])) == 32 and len(pa.b64d(answer["nonce"])) == 16
