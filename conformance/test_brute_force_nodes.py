"""Brute force on every factor stops at its limit across three nodes (docs/architecture.md).

Three `strongauth serve` nodes share one PostgreSQL (the session's server and two peers, the
`nodes` fixture of test_multi_node.py). For each factor that has an attempt limit, many wrong
answers go out at once, spread round-robin over the three nodes, and the test proves:

- exactly `limit` answers were checked — never more, read from the database itself (the factor's
  counter row and its audit events) and from the API's own counters (PowerAuth
  `remainingAttempts`, the operation's `failureCount`, "N attempts left" in the refusals);
- the factor is then blocked, locked or closed on every node;
- the right answer is refused afterwards wherever the product says so.

A limit kept in each node's memory would let up to three times the limit through here (each node
would check `limit` answers of its own); every count below is exact, so such a limit fails.

| factor | limit | counted in |
|---|---|---|
| device-binding OTP, per challenge (Kontist) | 5 | `challenges.attempts` |
| device-binding factor, per user across challenges | 10 | `users.failed_binding_attempts` |
| device MFA challenge (`stringToSign`) | 5 | `challenges.attempts` |
| push MFA answers | 5 | `challenges.attempts` |
| PowerAuth PIN at `/signature/verify` and at the mobile token API | 5 | `devices.failed_attempts` → BLOCKED |
| PowerAuth activation OTP (key exchange, commit) | 5 | `devices.failed_attempts` → REMOVED |
| approval answers: ECDSA phone (operation, Shine action request), PowerAuth phone (other data) | 5 | `approvals.failure_count` → FAILED |
| ABN AMRO access tools (SOFTTOKEN, BOUNDDEVICE), each its own counter | 3 | `access_tools.attempts_left` → blocked |
| operator password, operator TOTP (`/admin/login`) | 5 each | `operators.failed_*_attempts` → locked |
| user password at the token endpoint *and* self-service | 5 together | `users.failed_password_attempts` |

The password grant alone is covered in test_multi_node.py.

The conformance server's device challenges live 3 s (conftest), so the MFA tests sign their wrong
answers before they ask for the challenge and send them at once; the database, not the clock,
then tells that the challenge failed rather than expired.

PostgreSQL only, like test_multi_node.py: on SQLite one file has one writer per process.
"""
import json
import os
import re
import secrets
import time

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

import cluster
import conftest
import powerauth_phone as pa
from test_action_requests import username_of
from test_devices import Phone, bind, create_device, new_sms, sms_count, user_session
from test_multi_node import nodes, on_nodes  # noqa: F401 (nodes is a fixture)
from test_powerauth import KNOWLEDGE_FACTORS, Cloud, activated_phone, assert_powerauth_error, create_registration, new_phone
from test_sessions import CODE, SERVICE_V2, SERVICE_V4, solve
from test_web_ui import totp

pytestmark = pytest.mark.skipif(
    not conftest.DATABASE_URL,
    reason="multi-node tests need PostgreSQL (the PostgreSQL pass sets STRONGAUTH_TEST_DATABASE_URL)")

GUESSES = 15  # wrong answers sent at once per test: three times the usual limit of 5
TIMEOUT = 60


# --- helpers ---------------------------------------------------------------------------------------


def sql(query: str) -> str:
    """One value (or `|`-separated row) from the suite's PostgreSQL."""
    return cluster.psql(conftest.DATABASE_URL, query)


def quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def audit(action: str, subject: str = None, actor: str = None, outcome: str = "failure") -> list:
    """The details of the audit events with this action (and subject, actor, outcome), from the
    journal and the sealed chain alike, and the failures still counted in open windows
    (`audit_failures`, tries against a lock are one record with a `count`)."""
    where = f"action = {quoted(action)}"
    if subject:
        where += f" AND subject = {quoted(subject)}"
    if actor:
        where += f" AND actor = {quoted(actor)}"
    query = (f"SELECT details FROM audit_journal WHERE {where} AND outcome = {quoted(outcome)} "
             f"UNION ALL SELECT details FROM audit_events WHERE {where} AND outcome = {quoted(outcome)}")
    if outcome == "failure":
        query += (f" UNION ALL SELECT json_build_object('reason', reason, 'count', failures::text)::text "
                  f"FROM audit_failures WHERE {where}")
    output = sql(query)
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def reasons(events: list) -> dict:
    """How many failures of each reason (an aggregated record counts `count`)."""
    counts = {}
    for details in events:
        counts[details.get("reason")] = counts.get(details.get("reason"), 0) + int(details.get("count", "1"))
    return counts


def codes_of(responses) -> list:
    return sorted(response.status_code for response in responses)


def described(responses) -> list:
    return [(response.status_code, response.text[:160]) for response in responses]


def attempts_left(responses) -> list:
    """The "N attempts left" of each refusal that says so, sorted."""
    found = []
    for response in responses:
        match = re.search(r"(\d+) attempts left", response.text)
        if match:
            found.append(int(match.group(1)))
    return sorted(found)


def one_node(server, base):
    """The session's server with `url()` pinned to one node, for the other modules' helpers."""
    return cluster.RoundRobin(server, [base])


def other_otps(otp: str, count: int) -> list:
    """`count` six-digit codes that are not `otp`."""
    return [f"{(int(otp) + 1 + index) % 1_000_000:06d}" for index in range(count)]


def authorize(base: str, body: bytes, header: str):
    """Wultra's mobile token API: approve an operation with a signed `{"requestObject": {id, data}}`."""
    return requests.post(base + "/enrollment-server/api/auth/token/app/operation/authorize", data=body, timeout=TIMEOUT,
                         headers={"Content-Type": "application/json", "X-PowerAuth-Authorization": header})


def integration(server, prefix: str):
    """A PowerAuth application and an integration user of it: (app, Cloud)."""
    app_id = server.unique(prefix)
    app = server.cli("apps", "create", "--id", app_id)
    user = server.cli("integration-users", "create", "--name", server.unique(prefix + "-user"), "--app", app_id)
    return app, Cloud(server, user["name"], user["password"])


# --- Kontist device binding and device challenges -----------------------------------------------------


def test_binding_otp_challenge_checks_exactly_5_answers_across_nodes(server, nodes):
    app = server.create_client("bf-bind-otp")
    headers, number = user_session(server, app, "bf-bind-otp")
    user_id = username_of(headers, server)
    phone = Phone()
    created = create_device(server, headers, phone)
    device_id, challenge_id = created["deviceId"], created["challengeId"]
    otp = server.sms_to(number)
    wrong = [phone.sign(code) for code in other_otps(otp, GUESSES)]

    responses = on_nodes(nodes, GUESSES, lambda base, index: requests.post(
        base + f"/api/user/devices/{device_id}/verify", headers=headers, timeout=TIMEOUT,
        json={"challengeId": challenge_id, "signature": wrong[index]}))
    # 5 answers were checked (403: wrong signature); every other one found the challenge closed.
    assert codes_of(responses) == [403] * 5 + [409] * (GUESSES - 5), described(responses)
    assert sql(f"SELECT status, attempts FROM challenges WHERE id = {quoted(challenge_id)}") == "failed|5"
    checked = audit("device_binding.answer", subject=f"device:{device_id}")
    assert sorted(int(details["attempt"]) for details in checked) == [1, 2, 3, 4, 5], checked

    # Even the right OTP is refused now, on every node, and the device stays unbound.
    for base in nodes:
        right = requests.post(base + f"/api/user/devices/{device_id}/verify", headers=headers, timeout=TIMEOUT,
                              json={"challengeId": challenge_id, "signature": phone.sign(otp)})
        assert right.status_code == 409, right.text
    assert sql(f"SELECT status FROM devices WHERE id = {quoted(device_id)}") == "CREATED"
    # The 5 checked answers also count on the user's binding factor (limit 10): not locked yet.
    assert sql(f"SELECT failed_binding_attempts, binding_locked_until IS NULL FROM users WHERE id = {quoted(user_id)}") == "5|t"


def test_binding_factor_locks_binding_after_exactly_10_wrong_answers_across_challenges_and_nodes(server, nodes):
    """The per-user device-binding factor: 10 wrong answers over several bindings, then a lock."""
    app = server.create_client("bf-bind-lock")
    headers, number = user_session(server, app, "bf-bind-lock")
    user_id = username_of(headers, server)
    phone = Phone()
    bindings = []
    for index in range(4):
        # The SMS names no device (SECURITY.md): each binding's OTP is the next SMS to the number.
        before = sms_count(server, number)
        created = requests.post(server.url("/api/user/devices"), headers=headers, timeout=TIMEOUT,
                                json={"name": f"Phone {index + 1}", "key": phone.public_key_hex})
        assert created.status_code == 201, created.text
        bindings.append((created.json(), new_sms(server, number, before)))
    attacked, spare = bindings[:3], bindings[3]

    # 6 wrong answers to each of three bindings: 18 requests, 15 of them within the challenges' 5.
    answers = [(created, phone.sign(code)) for created, otp in attacked for code in other_otps(otp, 6)]
    responses = on_nodes(nodes, len(answers), lambda base, index: requests.post(
        base + f"/api/user/devices/{answers[index][0]['deviceId']}/verify", headers=headers, timeout=TIMEOUT,
        json={"challengeId": answers[index][0]["challengeId"], "signature": answers[index][1]}))
    # 10 checked (403), 5 met the user's lock (429), 3 found their challenge used up (409).
    assert codes_of(responses) == [403] * 10 + [409] * 3 + [429] * 5, described(responses)
    assert sql(f"SELECT failed_binding_attempts, binding_locked_until > 0 FROM users WHERE id = {quoted(user_id)}") == "10|t"
    wrong = audit("device_binding.answer", actor=f"user:{user_id}")
    assert reasons(wrong) == {"wrong_signature": 10}, wrong

    # Locked on every node: the right OTP of the spare binding is refused, and no new binding starts.
    for base in nodes:
        right = requests.post(base + f"/api/user/devices/{spare[0]['deviceId']}/verify", headers=headers, timeout=TIMEOUT,
                              json={"challengeId": spare[0]["challengeId"], "signature": phone.sign(spare[1])})
        assert right.status_code == 429, right.text
        again = requests.post(base + "/api/user/devices", headers=headers, timeout=TIMEOUT,
                              json={"name": "Phone 5", "key": Phone().public_key_hex})
        assert again.status_code == 429, again.text
    assert sql(f"SELECT status FROM devices WHERE id = {quoted(spare[0]['deviceId'])}") == "CREATED"
    assert sql(f"SELECT failed_binding_attempts FROM users WHERE id = {quoted(user_id)}") == "10"


def test_device_mfa_challenge_checks_exactly_5_signatures_across_nodes(server, nodes):
    app = server.create_client("bf-mfa")
    headers, number = user_session(server, app, "bf-mfa")
    phone, thief = Phone(), Phone()
    device_id = bind(server, headers, phone, number)
    wrong = [thief.sign(f"guess-{index}") for index in range(GUESSES)]  # ready before the 3-second challenge exists

    challenge = requests.post(nodes[0] + f"/api/user/devices/{device_id}/challenges", headers=headers, timeout=TIMEOUT).json()
    verify = f"/api/user/devices/{device_id}/challenges/{challenge['id']}/verify"
    responses = on_nodes(nodes, GUESSES, lambda base, index: requests.post(
        base + verify, headers=headers, json={"signature": wrong[index]}, timeout=TIMEOUT))
    right = [requests.post(base + verify, headers=headers, json={"signature": phone.sign(challenge["stringToSign"])},
                           timeout=TIMEOUT) for base in nodes]

    assert codes_of(responses) == [403] * 5 + [409] * (GUESSES - 5), described(responses)
    assert [response.status_code for response in right] == [409] * 3, described(right)
    # Failed by its 5 answers (not merely expired): the database says so.
    assert sql(f"SELECT status, attempts FROM challenges WHERE id = {quoted(challenge['id'])}") == "failed|5"
    checked = audit("device_signature.answer", subject=f"device:{device_id}")
    assert sorted(int(details["attempt"]) for details in checked) == [1, 2, 3, 4, 5], checked
    # The limit is the challenge's: the device itself is not blocked, a new challenge works.
    fresh = requests.post(nodes[1] + f"/api/user/devices/{device_id}/challenges", headers=headers, timeout=TIMEOUT).json()
    tokens = requests.post(nodes[2] + f"/api/user/devices/{device_id}/challenges/{fresh['id']}/verify", headers=headers,
                           json={"signature": phone.sign(fresh["stringToSign"])}, timeout=TIMEOUT)
    assert tokens.status_code == 200, tokens.text


def test_push_mfa_challenge_checks_exactly_5_answers_across_nodes(server, nodes):
    app = server.create_client("bf-push")
    headers, number = user_session(server, app, "bf-push")
    phone, thief = Phone(), Phone()
    device_id = bind(server, headers, phone, number)

    created = requests.post(nodes[0] + "/api/user/mfa/challenges", headers=headers, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    challenge_id = created.json()["id"]
    message = f"{challenge_id}:VERIFIED"
    wrong = [thief.sign(message) for _ in range(GUESSES)]
    url = f"/api/user/mfa/challenges/{challenge_id}"
    responses = on_nodes(nodes, GUESSES, lambda base, index: requests.patch(
        base + url, headers=headers, json={"deviceId": device_id, "status": "VERIFIED", "signature": wrong[index]}, timeout=TIMEOUT))
    right = [requests.patch(base + url, headers=headers, timeout=TIMEOUT,
                            json={"deviceId": device_id, "status": "VERIFIED", "signature": phone.sign(message)}) for base in nodes]

    assert codes_of(responses) == [403] * 5 + [409] * (GUESSES - 5), described(responses)
    assert [response.status_code for response in right] == [409] * 3, described(right)
    assert sql(f"SELECT status, attempts FROM challenges WHERE id = {quoted(challenge_id)}") == "failed|5"
    assert reasons(audit("mfa_push.answer", subject=f"device:{device_id}")) == {"wrong_signature": 5}
    for base in nodes:
        assert requests.post(base + url + "/token", headers=headers, timeout=TIMEOUT).status_code == 409


# --- PowerAuth --------------------------------------------------------------------------------------


def test_powerauth_wrong_pins_at_signature_verify_block_after_exactly_5_across_nodes(server, nodes):
    app, cloud = integration(server, "bf-pa-verify")
    phone, registration = activated_phone(server, app, cloud)
    registration_id = registration["registrationId"]
    # Wrong PINs (wrong knowledge keys), all at the phone's current counter value.
    headers = [phone.sign("POST", "/login", b"{}", KNOWLEDGE_FACTORS, knowledge_key=os.urandom(16), advance=False)
               for _ in range(GUESSES)]

    def verify(base, header):
        response = cloud.session.post(base + "/powerauth-cloud/v2/signature/verify", timeout=TIMEOUT, data=json.dumps({
            "method": "POST", "uriId": "/login", "authHeader": header, "requestBody": "e30="}))
        assert response.status_code == 200, response.text
        return response.json()

    answers = on_nodes(nodes, GUESSES, lambda base, index: verify(base, headers[index]))
    assert not any(answer["signatureValid"] for answer in answers), answers
    # remainingAttempts 4, 3, 2, 1 each reported once while ACTIVE; the 5th failure blocked it.
    active = sorted(answer["remainingAttempts"] for answer in answers if answer["registrationStatus"] == "ACTIVE")
    assert active == [1, 2, 3, 4], answers
    blocked = [answer for answer in answers if answer["registrationStatus"] == "BLOCKED"]
    assert len(blocked) == GUESSES - 4 and all(answer["remainingAttempts"] == 0 for answer in blocked), answers
    assert sql(f"SELECT failed_attempts, status, blocked_reason FROM devices WHERE id = {quoted(registration_id)}") \
        == "5|BLOCKED|MAX_FAILED_ATTEMPTS"
    failed = audit("powerauth.signature", subject=f"device:{registration_id}")
    assert sorted(int(details["failed"]) for details in failed) == [1, 2, 3, 4, 5], failed
    assert len(audit("powerauth.registration.blocked", subject=f"device:{registration_id}", outcome="success")) == 1

    # Blocked on every node: the right PIN is refused, and the bank sees BLOCKED.
    for base in nodes:
        right = verify(base, phone.sign("POST", "/login", b"{}", KNOWLEDGE_FACTORS))
        assert right["signatureValid"] is False and right["registrationStatus"] == "BLOCKED", right
        shown = one_node(server, base)
        assert Cloud(shown, *cloud.session.auth).registration(registration_id)["registrationStatus"] == "BLOCKED"


def test_powerauth_wrong_pins_approving_an_operation_block_the_activation_after_exactly_5_across_nodes(server, nodes):
    """Wultra's mobile token API: a wrong PIN on `/operation/authorize` counts on the activation
    (the PIN's factor) and, as the enrollment server does, on the operation (SECURITY.md); at 5 the
    activation is BLOCKED and the operation FAILED — exactly 5 on both, however many guesses went
    out — and even the right PIN with the right data cannot approve."""
    app, cloud = integration(server, "bf-pa-op")
    phone, registration = activated_phone(server, app, cloud)
    registration_id = registration["registrationId"]
    created = cloud.session.post(cloud.url("/operations"), timeout=TIMEOUT, data=json.dumps({
        "userId": registration["userId"], "template": "default.payment",
        "parameters": {"amount": "120.00", "currency": "EUR", "account": "DE89370400440532013000"}}))
    assert created.status_code == 200, created.text
    operation_id = created.json()["operationId"]
    body = json.dumps({"requestObject": {"id": operation_id, "data": "A1*A120.00EUR*IDE89370400440532013000"}}).encode()
    headers = [phone.sign("POST", "/operation/authorize", body, KNOWLEDGE_FACTORS, knowledge_key=os.urandom(16), advance=False)
               for _ in range(GUESSES)]
    responses = on_nodes(nodes, GUESSES, lambda base, index: authorize(base, body, headers[index]))
    assert codes_of(responses) == [401] * GUESSES, described(responses)
    assert sql(f"SELECT failed_attempts, status FROM devices WHERE id = {quoted(registration_id)}") == "5|BLOCKED"
    failed = audit("powerauth.signature", subject=f"device:{registration_id}")
    assert sorted(int(details["failed"]) for details in failed) == [1, 2, 3, 4, 5], failed

    for base in nodes:
        right = authorize(base, body, phone.sign("POST", "/operation/authorize", body, KNOWLEDGE_FACTORS))
        assert right.status_code == 401, right.text
    operation = requests.get(nodes[2] + f"/powerauth-cloud/v2/operations/{operation_id}", auth=cloud.session.auth, timeout=TIMEOUT)
    assert operation.json()["status"] == "FAILED" and operation.json()["failureCount"] == 5, operation.text


def test_powerauth_phones_approving_other_data_fail_the_operation_after_exactly_5_across_nodes(server, nodes):
    """Wultra's mobile token API with valid signatures over other data than the operation's
    (dynamic linking, RTS art. 5): each answer counts on the operation, FAILED at 5. Ten
    activations of one user answer once each, so that no signature waits behind another on one
    activation's counter (which would refuse it uncounted, as behind the counter)."""
    app, cloud = integration(server, "bf-pa-data")
    user_id = server.unique("bf-pa-data-user")
    phones = [activated_phone(server, app, cloud, user_id=user_id)[0] for _ in range(10)]
    created = cloud.session.post(cloud.url("/operations"), timeout=TIMEOUT, data=json.dumps({
        "userId": user_id, "template": "default.payment",
        "parameters": {"amount": "120.00", "currency": "EUR", "account": "DE89370400440532013000"}}))
    assert created.status_code == 200, created.text
    operation_id = created.json()["operationId"]
    shown = json.dumps({"requestObject": {"id": operation_id, "data": "A1*A120.00EUR*IDE89370400440532013000"}}).encode()
    other = json.dumps({"requestObject": {"id": operation_id, "data": "A1*A120.00EUR*IGB33BUKB20201555555555"}}).encode()
    headers = [phone.sign("POST", "/operation/authorize", other, KNOWLEDGE_FACTORS) for phone in phones]

    responses = on_nodes(nodes, len(phones), lambda base, index: authorize(base, other, headers[index]))
    errors = sorted(assert_powerauth_error(response)["code"] for response in responses)
    assert errors == ["OPERATION_ALREADY_FAILED"] * 5 + ["OPERATION_FAILED"] * 5, described(responses)
    assert attempts_left(responses) == [0, 1, 2, 3, 4], described(responses)
    assert sql(f"SELECT failure_count, status FROM approvals WHERE id = {quoted(operation_id)}") == "5|FAILED"
    failures = audit("approval.failure", subject=f"approval:{operation_id}")
    assert sorted(int(details["failures"]) for details in failures) == [1, 2, 3, 4, 5], failures
    # Other data is no wrong PIN: every activation stays ACTIVE with no failure counted.
    assert sql(f"SELECT count(*) FROM devices d JOIN powerauth_activations a ON a.device_id = d.id "
               f"WHERE a.application_id = {quoted(app['applicationId'])} AND d.status = 'ACTIVE' AND d.failed_attempts = 0") == "10"

    # FAILED on every node: the data shown, validly signed, is refused too.
    for base in nodes:
        right = authorize(base, shown, phones[0].sign("POST", "/operation/authorize", shown, KNOWLEDGE_FACTORS))
        assert_powerauth_error(right, "OPERATION_ALREADY_FAILED")
        operation = requests.get(base + f"/powerauth-cloud/v2/operations/{operation_id}", auth=cloud.session.auth, timeout=TIMEOUT)
        assert (operation.json()["status"], operation.json()["failureCount"]) == ("FAILED", 5), operation.text


@pytest.mark.parametrize("phase", ["ON_KEY_EXCHANGE", "ON_COMMIT"])
def test_powerauth_wrong_activation_otps_remove_the_registration_after_exactly_5_across_nodes(server, nodes, phase):
    """The activation OTP, sent by the phone with the key exchange or by the bank with the commit."""
    app, cloud = integration(server, "bf-pa-otp")
    otp = f"{int.from_bytes(os.urandom(4), 'big') % 10 ** 8:08d}"
    wrong = [f"{(int(otp) + 1 + index) % 10 ** 8:08d}" for index in range(GUESSES)]
    registration = create_registration(cloud, app, otp=otp, otpValidation=phase)
    registration_id = registration["registrationId"]

    if phase == "ON_KEY_EXCHANGE":
        pendings = [new_phone(server, app).prepare_activation(registration["activationCode"], otp=code) for code in wrong]
        responses = on_nodes(nodes, GUESSES, lambda base, index: pa.Transport(base).post(
            "/pa/v3/activation/create", pendings[index].body_bytes(), pendings[index].headers))
        codes = {"ERR_ACTIVATION"}  # the enrollment face's code for every activation refusal
    else:
        new_phone(server, app).activate(registration["activationCode"])
        assert cloud.registration(registration_id)["registrationStatus"] == "PENDING_COMMIT"
        responses = on_nodes(nodes, GUESSES, lambda base, index: cloud.session.post(
            base + f"/powerauth-cloud/v2/registrations/{registration_id}/commit", data=json.dumps({"otp": wrong[index]}),
            timeout=TIMEOUT))
        codes = None
    for response in responses:
        error = assert_powerauth_error(response)
        assert codes is None or error["code"] in codes, error
    # The failures that counted said 4, 3, 2, 1 attempts left once each (the 5th and any that
    # raced with it say 0).
    assert [left for left in attempts_left(responses) if left > 0] == [1, 2, 3, 4], described(responses)
    assert sql(f"SELECT failed_attempts, status FROM devices WHERE id = {quoted(registration_id)}") == "5|REMOVED"

    # Removed on every node: the right OTP cannot activate or commit it any more.
    for base in nodes:
        if phase == "ON_KEY_EXCHANGE":
            phone = pa.PowerAuthPhone(app["appKey"], app["appSecret"], app["masterPublicKey"], transport=pa.Transport(base))
            with pytest.raises(pa.PowerAuthHttpError) as refused:
                phone.activate(registration["activationCode"], otp=otp)
            error = assert_powerauth_error(refused.value.response, "ERR_ACTIVATION")
            assert "attempts left" not in error["message"], error  # no live code: not another OTP check
        else:
            refused = cloud.session.post(base + f"/powerauth-cloud/v2/registrations/{registration_id}/commit",
                                         data=json.dumps({"otp": otp}), timeout=TIMEOUT)
            assert_powerauth_error(refused)
        assert Cloud(one_node(server, base), *cloud.session.auth).registration(registration_id)["registrationStatus"] == "REMOVED"
    assert sql(f"SELECT failed_attempts FROM devices WHERE id = {quoted(registration_id)}") == "5"


# --- approvals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["operation", "action_request"])
def test_wrong_signatures_fail_an_approval_after_exactly_5_across_nodes(server, nodes, kind):
    """A PowerAuth operation and a Shine action request, answered by a Kontist-bound phone through
    the one pending list with signatures that do not verify: `failureCount` 5, then FAILED."""
    client = server.create_client(f"bf-approval-{kind}")
    headers, number = user_session(server, client, f"bf-approval-{kind}")
    phone, thief = Phone(), Phone()
    device_id = bind(server, headers, phone, number)
    if kind == "operation":
        app, cloud = integration(server, "bf-op")
        created = cloud.session.post(cloud.url("/operations"), timeout=TIMEOUT, data=json.dumps({
            "userId": f"bf-approval-{kind}-{server.run_id}",  # user_session's username
            "template": "default.payment", "parameters": {"amount": "10.00", "currency": "EUR", "account": "DE02"}}))
        assert created.status_code == 200, created.text
        approval_id = created.json()["operationId"]
    else:
        created = requests.post(server.url("/v2/authentication/oauth2/action_request"), timeout=TIMEOUT, json={
            "action": "bank:transfers:create", "client_id": client[0], "client_secret": client[1],
            "uid": username_of(headers, server), "payload": {"amount": 99}})
        assert created.status_code in (200, 201), created.text
        approval_id = created.json()["data"]["authenticationActionRequestId"]
    [approval] = [item for item in requests.get(nodes[1] + "/api/user/approvals", headers=headers, timeout=TIMEOUT).json()
                  if item["id"] == approval_id]
    data = approval["data"]

    url = f"/api/user/approvals/{approval_id}/approve"
    responses = on_nodes(nodes, GUESSES, lambda base, _: requests.post(
        base + url, headers=headers, timeout=TIMEOUT,
        json={"deviceId": device_id, "data": data, "signature": thief.sign(approval["stringToSign"])}))
    assert codes_of(responses) == [403] * 5 + [409] * (GUESSES - 5), described(responses)
    assert attempts_left(responses) == [0, 1, 2, 3, 4], described(responses)
    assert sql(f"SELECT failure_count, status FROM approvals WHERE id = {quoted(approval_id)}") == "5|FAILED"
    failures = audit("approval.failure", subject=f"approval:{approval_id}")
    assert sorted(int(details["failures"]) for details in failures) == [1, 2, 3, 4, 5], failures

    # FAILED on every node: the phone's right signature over the right data is refused.
    for base in nodes:
        right = requests.post(base + url, headers=headers, timeout=TIMEOUT,
                              json={"deviceId": device_id, "data": data, "signature": phone.sign(approval["stringToSign"])})
        assert right.status_code == 409, right.text
        if kind == "operation":
            shown = requests.get(base + f"/powerauth-cloud/v2/operations/{approval_id}", auth=cloud.session.auth, timeout=TIMEOUT)
            assert (shown.json()["status"], shown.json()["failureCount"]) == ("FAILED", 5), shown.text
        else:
            polled = requests.get(base + f"/v2/authentication/oauth2/action_request/{approval_id}/poll", timeout=TIMEOUT,
                                  params={"client_id": client[0], "client_secret": client[1]})
            assert polled.json()["data"]["status"] == "REJECTED" and not polled.json()["data"].get("token"), polled.text
    assert sql(f"SELECT failure_count FROM approvals WHERE id = {quoted(approval_id)}") == "5"


# --- ABN AMRO sessions --------------------------------------------------------------------------------


def abn_amro_user(server):
    """A user with both ABN AMRO access tools: the soft token's identification code and a phone bound
    through the Kontist face. Returns (account, card, user id, phone)."""
    account, card = str(100_000_000 + secrets.randbelow(899_999_999)), str(100 + secrets.randbelow(899))
    number = f"+49152{secrets.randbelow(10 ** 8):08d}"
    created = server.cli("users", "create", "--username", server.unique("bf-abn"), "--password", "user-password",
                         "--phone", number, "--account", account, "--card", card, "--identification-code", CODE)
    token = requests.post(server.url("/oauth/token"), auth=server.create_client("bf-abn"), timeout=TIMEOUT, data={
        "grant_type": "password", "username": created["username"], "password": "user-password"}).json()
    phone = Phone()
    bind(server, {"Authorization": "Bearer " + token["access_token"]}, phone, number)
    return account, card, created["id"], phone


def login_challenge(base, browser, account, card, usage, expect=200):
    """test_sessions.get_challenge for either tool (the first bound phone for BOUNDDEVICE_*)."""
    params = {"accountNumber": "0" + account, "cardNumber": card, "accessToolUsage": usage}
    if usage != "SOFTTOKEN":
        params["boundDeviceIndexNumber"] = "1"
    response = browser.get(base + "/session/loginchallenge", headers=SERVICE_V2, params=params, timeout=TIMEOUT)
    assert response.status_code == expect, response.text
    return response.json()["loginChallenge"] if expect == 200 else response


def login_response(base, session_token, account, card, usage, challenge, response_hex):
    """test_sessions.put_response for either tool, with the session cookie of the challenges."""
    return requests.put(base + "/session/loginresponse", headers=SERVICE_V4, cookies={"strongauth_session": session_token},
                        timeout=TIMEOUT, json={
                            "accountNumber": int(account), "cardNumber": int(card), "challengeHandle": challenge["challengeHandle"],
                            "response": response_hex, "accessToolUsage": usage,
                            "challengeDeviceDetails": challenge["challengeDeviceDetails"]})


def login_answer(usage, challenge, phone, right: bool) -> str:
    """The soft token's RSA answer with the right or a wrong code, or the bound phone's (or a
    stranger's) signature over the challenge bytes."""
    if usage == "SOFTTOKEN":
        return solve(challenge, code=CODE if right else "13579")
    key = phone.key if right else Phone().key
    return key.sign(bytes.fromhex(challenge["challenge"]), ec.ECDSA(hashes.SHA256())).hex()


@pytest.mark.parametrize("usage", ["SOFTTOKEN", "BOUNDDEVICE_USERPIN"])
def test_abn_amro_access_tool_blocks_after_exactly_3_wrong_responses_across_nodes(server, nodes, usage):
    account, card, user_id, phone = abn_amro_user(server)
    tool, other_tool, other_usage = (("SOFTTOKEN", "BOUNDDEVICE", "BOUNDDEVICE_USERPIN") if usage == "SOFTTOKEN"
                                     else ("BOUNDDEVICE", "SOFTTOKEN", "SOFTTOKEN"))
    browser = requests.Session()
    wrong_count, spare_count = 12, len(nodes)
    challenges = [login_challenge(nodes[index % len(nodes)], browser, account, card, usage)
                  for index in range(wrong_count + spare_count)]
    assert all(challenge["attemptsLeft"] == 3 for challenge in challenges)
    session_token = browser.cookies["strongauth_session"]
    wrong = [login_answer(usage, challenge, phone, right=False) for challenge in challenges[:wrong_count]]

    responses = on_nodes(nodes, wrong_count, lambda base, index: login_response(
        base, session_token, account, card, usage, challenges[index], wrong[index]))
    # 3 responses were checked (403, "2, 1, 0 attempts left"); the other 9 met the block (423).
    assert codes_of(responses) == [403] * 3 + [423] * (wrong_count - 3), described(responses)
    assert attempts_left(responses) == [0, 1, 2], described(responses)

    # Blocked on every node: the right answer is refused and no new challenge is issued.
    for base, challenge in zip(nodes, challenges[wrong_count:]):
        right = login_response(base, session_token, account, card, usage, challenge, login_answer(usage, challenge, phone, right=True))
        assert right.status_code == 423, right.text
        login_challenge(base, requests.Session(), account, card, usage, expect=423)
    tools = dict(line.split("|") for line in sql(
        f"SELECT tool, attempts_left FROM access_tools WHERE user_id = {quoted(user_id)}").splitlines())
    assert tools == {tool: "0", other_tool: "3"}, tools
    logins = audit("session.login", subject=f"user:{user_id}")
    assert sorted(int(details["attemptsLeft"]) for details in logins if details["reason"] == "wrong_response") == [0, 1, 2], logins
    assert reasons(logins) == {"wrong_response": 3, "blocked": wrong_count - 3 + spare_count}, logins
    assert len(audit("session.access_tool.blocked", subject=f"user:{user_id}", outcome="success")) == 1

    # The other tool has its own counter: guessing one cannot block the other.
    other = requests.Session()
    challenge = login_challenge(nodes[1], other, account, card, other_usage)
    logged_in = login_response(nodes[2], other.cookies["strongauth_session"], account, card, other_usage, challenge,
                               login_answer(other_usage, challenge, phone, right=True))
    assert logged_in.status_code == 200, logged_in.text


@pytest.mark.parametrize("usage", ["SOFTTOKEN", "BOUNDDEVICE_USERPIN"])
def test_an_unknown_accounts_decoy_blocks_after_exactly_3_wrong_responses_across_nodes(server, nodes, usage):
    """A decoy challenge issued by one node is answered on another (nothing is stored for
    it), and its wrong answers count down and block exactly as a known account's above."""
    account, card = "2" + f"{secrets.randbelow(10 ** 9):09d}", str(100 + secrets.randbelow(899))
    browser = requests.Session()
    wrong_count, spare_count = 12, len(nodes)
    # Ten digits starting with 2: no user's account (login_challenge would prefix a 0 to nine).
    params = {"accountNumber": account, "cardNumber": card, "accessToolUsage": usage, "boundDeviceIndexNumber": "1"}
    challenges = []
    for index in range(wrong_count + spare_count):
        response = browser.get(nodes[index % len(nodes)] + "/session/loginchallenge", headers=SERVICE_V2, params=params, timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        challenges.append(response.json()["loginChallenge"])
    assert all(challenge["attemptsLeft"] == 3 and challenge["userId"] == f"{account}_{card}" for challenge in challenges)
    assert sql(f"SELECT COUNT(*) FROM login_challenges WHERE user_id LIKE {quoted('%' + account + '%')}") == "0"
    session_token = browser.cookies["strongauth_session"]
    phone = Phone()
    wrong = [login_answer(usage, challenge, phone, right=False) for challenge in challenges[:wrong_count]]

    responses = on_nodes(nodes, wrong_count, lambda base, index: login_response(
        nodes[(nodes.index(base) + 1) % len(nodes)], session_token, account, card, usage, challenges[index], wrong[index]))
    assert codes_of(responses) == [403] * 3 + [423] * (wrong_count - 3), described(responses)
    assert attempts_left(responses) == [0, 1, 2], described(responses)
    for base, challenge in zip(nodes, challenges[wrong_count:]):
        answered = login_response(base, session_token, account, card, usage, challenge, login_answer(usage, challenge, phone, right=True))
        assert answered.status_code == 423, answered.text
        blocked = requests.get(base + "/session/loginchallenge", headers=SERVICE_V2, params=params, timeout=TIMEOUT)
        assert blocked.status_code == 423, blocked.text
    tool = "SOFTTOKEN" if usage == "SOFTTOKEN" else "BOUNDDEVICE"
    # The counter is stored under an HMAC of the account and card, never the number itself.
    assert int(sql(f"SELECT COUNT(*) FROM decoy_login_attempts WHERE tool = {quoted(tool)} AND attempts_left = 0")) >= 1
    assert sql(f"SELECT COUNT(*) FROM decoy_login_attempts WHERE subject_hash LIKE {quoted('%' + account + '%')}") == "0"


# --- the web UI's sign-in forms -----------------------------------------------------------------------


def sign_in_form(base: str, area: str) -> tuple:
    """GET the sign-in page of `area` (admin, self-service) on one node: (pre-session cookie, CSRF field)."""
    page = requests.get(base + f"/{area}/login", timeout=TIMEOUT)
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    cookie_name = "sa_admin_pre" if area == "admin" else "sa_self_pre"
    return {cookie_name: page.cookies[cookie_name]}, csrf.group(1)


def post_sign_in(base: str, area: str, form: tuple, **fields):
    cookies, csrf = form
    return requests.post(base + f"/{area}/login", cookies=cookies, data={"_csrf": csrf, **fields}, allow_redirects=False,
                         timeout=TIMEOUT)


def signed_in(response) -> bool:
    return response.status_code == 303 and any(name in response.cookies for name in ("sa_admin", "sa_self"))


def create_operator(server, name: str) -> dict:
    created = server.cli("operators", "create", "--username", server.unique(name), "--password", "operator password")
    assert created["totpSecret"], created
    return created


def refused_everywhere_after_5(nodes, form, operator, wrong: str) -> list:
    """The right password and code are refused on every node, and exactly 5 `wrong` answers were
    checked (consecutive failures 1…5); returns the operator's sign-in audit events."""
    for base in nodes:
        right = post_sign_in(base, "admin", form, username=operator["username"], password="operator password",
                             totp=totp(operator["totpSecret"], time.time()))
        assert right.status_code == 401 and not signed_in(right), right.text
    events = audit("operator.signin", subject=f"operator:{operator['id']}")
    checked = sorted(int(details["consecutive_failures"]) for details in events if details["reason"] == wrong)
    assert checked == [1, 2, 3, 4, 5], events
    return events


def test_operator_password_locks_after_exactly_5_wrong_passwords_across_nodes(server, nodes):
    operator = create_operator(server, "bf-op-password")
    form = sign_in_form(nodes[0], "admin")  # one node's form works on every node (the CSRF key is the installation's)
    responses = on_nodes(nodes, GUESSES, lambda base, index: post_sign_in(
        base, "admin", form, username=operator["username"], password=f"wrong password {index}", totp="000000"))
    assert codes_of(responses) == [401] * GUESSES, described(responses)
    assert sql(f"SELECT failed_password_attempts, password_locked_until > 0, failed_totp_attempts FROM operators "
               f"WHERE id = {quoted(operator['id'])}") == "5|t|0"

    # Locked on every node: the right password with the right code is refused too.
    events = refused_everywhere_after_5(nodes, form, operator, "wrong_password")
    assert reasons(events) == {"wrong_password": 5, "password_locked": GUESSES - 5 + len(nodes)}, events


def test_operator_totp_locks_after_exactly_5_wrong_codes_across_nodes(server, nodes):
    """The right password with wrong codes: the TOTP is a factor of its own, locked after 5."""
    operator = create_operator(server, "bf-op-totp")
    now = time.time()
    valid = {totp(operator["totpSecret"], now + drift) for drift in (-60, -30, 0, 30, 60)}
    codes = [code for code in (f"{(123457 * index) % 1_000_000:06d}" for index in range(1, 100)) if code not in valid][:GUESSES]
    form = sign_in_form(nodes[1], "admin")
    responses = on_nodes(nodes, GUESSES, lambda base, index: post_sign_in(
        base, "admin", form, username=operator["username"], password="operator password", totp=codes[index]))
    assert codes_of(responses) == [401] * GUESSES, described(responses)
    assert sql(f"SELECT failed_totp_attempts, totp_locked_until > 0, failed_password_attempts FROM operators "
               f"WHERE id = {quoted(operator['id'])}") == "5|t|0"

    events = refused_everywhere_after_5(nodes, form, operator, "wrong_totp")
    # Every other sign-in met a lock. Most met the TOTP's; a few of the concurrent ones may have met
    # the password's: its attempts are counted before the check too, so while 5 right passwords
    # are being checked at once a 6th is refused ("password_locked") until one of them resets the
    # counter. Either way no further code was checked.
    refused = reasons(events)
    assert refused.pop("wrong_totp") == 5 and set(refused) <= {"totp_locked", "password_locked"}, events
    assert sum(refused.values()) == GUESSES - 5 + len(nodes) and refused["totp_locked"] >= len(nodes), events


def test_password_guesses_at_the_token_endpoint_and_self_service_share_one_limit_of_5_across_nodes(server, nodes):
    """One factor, two faces: the password grant and the self-service sign-in count together."""
    client = server.create_client("bf-shared-password")
    username, user_id = server.create_user("bf-shared-password", "the-right-password")
    forms = [sign_in_form(base, "self-service") for base in nodes]

    def guess(base, index):
        if index % 2:
            return post_sign_in(base, "self-service", forms[nodes.index(base)], username=username, password=f"wrong-{index}")
        return requests.post(base + "/oauth/token", auth=client, timeout=TIMEOUT,
                             data={"grant_type": "password", "username": username, "password": f"wrong-{index}"})

    responses = on_nodes(nodes, 2 * GUESSES, guess)
    assert codes_of(responses) == [400] * GUESSES + [401] * GUESSES, described(responses)
    assert sql(f"SELECT failed_password_attempts, password_locked_until > 0 FROM users WHERE id = {quoted(user_id)}") == "5|t"
    grant = audit("login.password", subject=f"user:{user_id}")
    web = audit("selfservice.signin", subject=f"user:{user_id}")
    checked = sorted(int(details["consecutive_failures"]) for details in grant + web if details.get("reason") == "wrong_password")
    assert checked == [1, 2, 3, 4, 5], (grant, web)

    # Locked at both faces on every node, even for the right password.
    for base, form in zip(nodes, forms):
        token = requests.post(base + "/oauth/token", auth=client, timeout=TIMEOUT,
                              data={"grant_type": "password", "username": username, "password": "the-right-password"})
        assert token.status_code == 400 and token.json()["error"] == "invalid_grant", token.text
        page = post_sign_in(base, "self-service", form, username=username, password="the-right-password")
        assert page.status_code == 401 and not signed_in(page), page.text
