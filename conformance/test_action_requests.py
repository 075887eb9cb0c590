"""Shine's API documentation literally, with `requests` as the integrator and a Python `cryptography` phone
bound through the Kontist face approving on the one pending list (docs/approvals.md); and the PowerAuth Cloud REST API
operation flow, approved by the same phone."""
import concurrent.futures
import time

import requests

from test_devices import Phone, app, bind, user_session  # noqa: F401 (app is a fixture)


def username_of(headers, server):
    import jwt
    token = headers["Authorization"].split(" ", 1)[1]
    return jwt.decode(token, options={"verify_signature": False})["sub"]


def approval_message(approval_id, data):
    """What an ECDSA-bound phone signs to approve: it names the approval, so it approves no other."""
    return f"approve:{approval_id}:{data}"


def approve_on_phone(server, headers, phone, device_id, approval_id):
    pending = requests.get(server.url("/api/user/approvals"), headers=headers, timeout=10)
    assert pending.status_code == 200, pending.text
    approval = next(item for item in pending.json() if item["id"] == approval_id)
    # The phone signs the server's string to sign, after checking it names this approval and the shown data.
    assert approval["stringToSign"] == approval_message(approval_id, approval["data"]), approval
    answer = requests.post(server.url(f"/api/user/approvals/{approval_id}/approve"), headers=headers, timeout=10,
                           json={"deviceId": device_id, "data": approval["data"], "signature": phone.sign(approval["stringToSign"])})
    assert answer.status_code == 200, answer.text
    return approval


def test_seed_001_flow_literally(server, app):
    client_id, client_secret = app
    headers, number = user_session(server, app, "shine")
    phone = Phone()
    device_id = bind(server, headers, phone, number)
    uid = username_of(headers, server)
    payload = {"amount": 234, "bankTransferRecipientId": "BANK_TRANSFER_RECIPIENT_ID", "uid": uid}

    # 1. Create an Action Request (Shine's axios call, as JSON).
    created = requests.post(server.url("/v2/authentication/oauth2/action_request"), timeout=10, json={
        "action": "bank:transfers:create", "client_id": client_id, "client_secret": client_secret, "uid": uid, "payload": payload})
    assert created.status_code in (200, 201), created.text
    data = created.json()["data"]
    assert created.json()["metadata"] == {}
    request_id = data["authenticationActionRequestId"]
    assert data["status"] == "PENDING" and data["payload"] == payload and data["clientId"] == client_id

    # 3. Poll (GET with the credentials as query parameters, as axios `params` sends them).
    poll_url = server.url(f"/v2/authentication/oauth2/action_request/{request_id}/poll")
    polled = requests.get(poll_url, params={"client_id": client_id, "client_secret": client_secret}, timeout=10)
    assert polled.status_code == 200 and polled.json()["data"]["status"] == "PENDING", polled.text

    # 2. The user confirms on the phone what it shows: the action and the exact payload.
    approval = approve_on_phone(server, headers, phone, device_id, request_id)
    assert approval["data"].startswith("bank:transfers:create\n") and '"amount":234' in approval["data"]

    confirmed = requests.get(poll_url, params={"client_id": client_id, "client_secret": client_secret}, timeout=10).json()["data"]
    assert confirmed["status"] == "CONFIRMED" and confirmed["token"], confirmed
    token = confirmed["token"]

    # 4. Trigger the action once, with the bearer token and the short-lived token.
    access = requests.post(server.url("/oauth/token"), auth=app, data={"grant_type": "client_credentials"}, timeout=10).json()
    transfer_headers = {"Authorization": "Bearer " + access["access_token"], "short-lived-token": token}
    other = dict(payload, amount=2340)
    assert requests.post(server.url("/v3/bank/transfers"), json=other, headers=transfer_headers, timeout=10).status_code == 403
    first = requests.post(server.url("/v3/bank/transfers"), json=payload, headers=transfer_headers, timeout=10)
    assert first.status_code == 201, first.text
    again = requests.post(server.url("/v3/bank/transfers"), json=payload, headers=transfer_headers, timeout=10)
    assert again.status_code == 403, again.text


def test_a_short_lived_token_is_used_once_under_concurrency(server, app):
    client_id, client_secret = app
    headers, number = user_session(server, app, "shine-race")
    phone = Phone()
    device_id = bind(server, headers, phone, number)
    uid = username_of(headers, server)
    payload = {"amount": 1, "bankTransferRecipientId": "R"}
    created = requests.post(server.url("/v2/authentication/oauth2/action_request"), timeout=10, json={
        "action": "bank:transfers:create", "client_id": client_id, "client_secret": client_secret, "uid": uid, "payload": payload})
    request_id = created.json()["data"]["authenticationActionRequestId"]
    approve_on_phone(server, headers, phone, device_id, request_id)
    token = requests.post(server.url(f"/v2/authentication/oauth2/action_request/{request_id}/poll"), timeout=10,
                          json={"client_id": client_id, "client_secret": client_secret}).json()["data"]["token"]
    body = {"client_id": client_id, "client_secret": client_secret, "token": token, "action": "bank:transfers:create",
            "payload": payload}
    with concurrent.futures.ThreadPoolExecutor(max_workers=25) as pool:
        codes = list(pool.map(lambda _: requests.post(server.url("/v2/authentication/oauth2/action_request/verify"),
                                                      json=body, timeout=30).status_code, range(50)))
    assert codes.count(200) == 1 and codes.count(403) == 49, codes


def test_seed_003_operation_flow_approved_by_a_bound_phone(server, app):
    headers, number = user_session(server, app, "operations")
    phone = Phone()
    device_id = bind(server, headers, phone, number)
    uid = f"operations-{server.run_id}"  # the bank's id of the user: her username (user_session's naming)
    app_id = server.unique("ops-app")
    server.cli("apps", "create", "--id", app_id)
    integration = server.cli("integration-users", "create", "--name", server.unique("ops-user"), "--app", app_id)
    auth = (integration["name"], integration["password"])
    # Shine's curl body (userId is the bank's id of the user: here her username).
    created = requests.post(server.url("/powerauth-cloud/v2/operations"), auth=auth, timeout=10, json={
        "userId": uid, "template": "default.payment",
        "parameters": {"amount": "63.99", "currency": "EUR", "account": "CZ32493745329497374923"}})
    assert created.status_code == 200, created.text
    operation = created.json()
    assert operation["status"] == "PENDING" and operation["operationType"] == "payment"
    assert operation["failureCount"] == 0 and operation["maxFailureCount"] == 5
    assert operation["timestampExpires"] - operation["timestampCreated"] == 300_000
    url = server.url(f"/powerauth-cloud/v2/operations/{operation['operationId']}")
    assert requests.get(url, auth=auth, timeout=10).json()["status"] == "PENDING"
    approval = approve_on_phone(server, headers, phone, device_id, operation["operationId"])
    assert approval["data"] == "A1*A63.99EUR*ICZ32493745329497374923"
    assert requests.get(url, auth=auth, timeout=10).json()["status"] == "APPROVED"


def test_an_approval_body_replayed_to_another_login_approves_nothing(server, app):
    """Every login's data is `A2`. The body that approved one login, sent to the next
    login's URL (or with another device's id, or signed over the data alone), is refused and counted."""
    headers, number = user_session(server, app, "approval-replay")
    phone = Phone()
    device_id = bind(server, headers, phone, number)
    app_id = server.unique("replay-app")
    server.cli("apps", "create", "--id", app_id)
    integration = server.cli("integration-users", "create", "--name", server.unique("replay-user"), "--app", app_id)
    auth = (integration["name"], integration["password"])
    logins = []
    for _ in range(2):
        created = requests.post(server.url("/powerauth-cloud/v2/operations"), auth=auth, timeout=10,
                                json={"userId": f"approval-replay-{server.run_id}", "template": "default.login"})
        assert created.status_code == 200, created.text
        logins.append(created.json()["operationId"])
    pending = {item["id"]: item for item in requests.get(server.url("/api/user/approvals"), headers=headers, timeout=10).json()}
    assert pending[logins[0]]["data"] == pending[logins[1]]["data"] == "A2"
    assert pending[logins[0]]["stringToSign"] != pending[logins[1]]["stringToSign"]

    captured = {"deviceId": device_id, "data": "A2", "signature": phone.sign(pending[logins[0]]["stringToSign"])}
    assert requests.post(server.url(f"/api/user/approvals/{logins[0]}/approve"), headers=headers, timeout=10,
                         json=captured).status_code == 200
    second = server.url(f"/api/user/approvals/{logins[1]}/approve")
    replayed = requests.post(second, headers=headers, timeout=10, json=captured)
    assert replayed.status_code == 403, replayed.text
    assert replayed.headers["Content-Type"].startswith("application/problem+json")
    bare = requests.post(second, headers=headers, timeout=10, json={**captured, "signature": phone.sign("A2")})
    assert bare.status_code == 403, bare.text
    operation = requests.get(server.url(f"/powerauth-cloud/v2/operations/{logins[1]}"), auth=auth, timeout=10).json()
    assert (operation["status"], operation["failureCount"]) == ("PENDING", 2), operation
    own = requests.post(second, headers=headers, timeout=10,
                        json={**captured, "signature": phone.sign(pending[logins[1]]["stringToSign"])})
    assert own.status_code == 200 and own.json()["status"] == "APPROVED", own.text


def test_cli_simulator_lists_approves_and_rejects(server, app):
    """`strongauth device bind | approvals | approve ID | reject ID` — the phone simulator on the one list."""
    import cluster
    client_id, client_secret = app
    username = server.unique("cli-approver")
    server.cli("users", "create", "--username", username, "--password", "cli-password", "--phone", "+4915100001234")
    env = dict(server.env, STRONGAUTH_CLIENT_SECRET=client_secret, STRONGAUTH_USER_PASSWORD="cli-password")

    def device(*args):
        return cluster.cli(server.workdir, env, "", "device", *args, "--server", server.base, "--client-id", client_id,
                           "--username", username)

    device_id = device("bind", "--name", "CLI phone")["deviceId"]
    app_id = server.unique("cli-ops-app")
    server.cli("apps", "create", "--id", app_id)
    integration = server.cli("integration-users", "create", "--name", server.unique("cli-ops-user"), "--app", app_id)
    auth = (integration["name"], integration["password"])
    ids = []
    for _ in range(2):
        created = requests.post(server.url("/powerauth-cloud/v2/operations"), auth=auth, timeout=10, json={
            "userId": username, "template": "default.payment",
            "parameters": {"amount": "1.00", "currency": "EUR", "account": "DE02"}})
        assert created.status_code == 200, created.text
        ids.append(created.json()["operationId"])

    listed = device("approvals")["approvals"]
    assert sorted(item["id"] for item in listed) == sorted(ids)
    assert device("approve", ids[0], "--device-id", device_id)["status"] == "APPROVED"
    assert device("reject", ids[1], "--device-id", device_id, "--reason", "NOT_ME")["status"] == "REJECTED"
    statuses = [requests.get(server.url(f"/powerauth-cloud/v2/operations/{operation}"), auth=auth, timeout=10).json()["status"]
                for operation in ids]
    assert statuses == ["APPROVED", "REJECTED"]
