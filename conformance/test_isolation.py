"""Tenants never reach each other's data (abuse).

Two OAuth clients (A, B), two PowerAuth applications with an integration user each (X for app
X, Y for app Y), two end users with a bound phone each (U1, U2). Every attempt of one tenant to
read or change what belongs to another is refused — and, what matters more, leaves it unchanged:
the owner reads the same state afterwards, and a single-use secret the intruder presented is still
usable once by its owner.

Covers registrations, signatures and MAC tokens, operations, webhook deliveries (both faces),
action requests and their short-lived tokens, finAPI processes and users, and the end-user faces
(devices, challenges, approvals). Runs on SQLite and on PostgreSQL.
"""
import base64
import json

import pytest
import requests

import conftest
from test_action_requests import approve_on_phone, username_of
from test_devices import Phone, bind, confirmed_headers, user_session
from test_powerauth import KNOWLEDGE_FACTORS, Cloud, activated_phone, create_registration


def dead_url() -> str:
    """A webhook URL where nothing listens: deliveries stay pending in the log."""
    return f"http://127.0.0.1:{conftest._free_port()}/hooks"


@pytest.fixture(scope="module")
def tenants(server):
    class Tenants:
        pass

    t = Tenants()
    t.client_a = server.cli("clients", "create", "--id", server.unique("iso-a"), "--scopes", "accounts,transfers",
                            "--grants", "client_credentials,password,refresh_token", "--webhook-url", dead_url())
    t.client_b = server.cli("clients", "create", "--id", server.unique("iso-b"), "--scopes", "accounts,transfers",
                            "--grants", "client_credentials,password,refresh_token", "--webhook-url", dead_url())
    t.a = (t.client_a["clientId"], t.client_a["clientSecret"])
    t.b = (t.client_b["clientId"], t.client_b["clientSecret"])
    t.app_x = server.cli("apps", "create", "--id", server.unique("iso-app-x"), "--callback-url", dead_url())
    t.app_y = server.cli("apps", "create", "--id", server.unique("iso-app-y"), "--callback-url", dead_url())
    user_x = server.cli("integration-users", "create", "--name", server.unique("iso-x"), "--app", t.app_x["applicationId"])
    user_y = server.cli("integration-users", "create", "--name", server.unique("iso-y"), "--app", t.app_y["applicationId"])
    t.x = Cloud(server, user_x["name"], user_x["password"])
    t.y = Cloud(server, user_y["name"], user_y["password"])
    t.u1_headers, number1 = user_session(server, t.a, "iso-u1")
    t.u2_headers, number2 = user_session(server, t.a, "iso-u2")
    t.u1_phone, t.u2_phone = Phone(), Phone()
    t.u1_device = bind(server, t.u1_headers, t.u1_phone, number1)
    t.u2_device = bind(server, t.u2_headers, t.u2_phone, number2)
    t.u1_sub = username_of(t.u1_headers, server)  # the user's id: Shine's `uid`
    t.u1 = f"iso-u1-{server.run_id}"  # user_session's username: the bank's userId of operations
    return t


def refused(response, *codes):
    codes = codes or (403, 404)
    assert response.status_code in codes, f"expected one of {codes}, got {response.status_code}: {response.text[:300]}"
    return response


# --- PowerAuth: registrations, signatures, tokens, operations, deliveries --------------------------


def test_integration_users_reach_only_their_applications_registrations(server, tenants):
    t = tenants
    registration = create_registration(t.x, t.app_x)
    rid = registration["registrationId"]
    refused(t.y.session.get(t.y.url(f"/registrations/{rid}")), 404)
    refused(t.y.commit(rid), 404)
    refused(t.y.change(rid, "BLOCK", "NOT_YOURS"), 404)
    refused(t.y.delete(rid), 404)
    listed = t.y.registrations(registration["userId"], removed=True)
    assert listed.status_code == 200 and rid not in json.dumps(listed.json()), listed.text
    # Y cannot create registrations in X's application either.
    refused(t.y.create_registration({"userId": server.unique("iso-end-user"), "appId": t.app_x["applicationId"]}), 400, 403, 404)
    assert t.x.registration(rid)["registrationStatus"] == "CREATED"


def test_integration_users_cannot_verify_or_consume_another_applications_signatures(server, tenants):
    t = tenants
    phone, registration = activated_phone(server, t.app_x, t.x)
    # X verifies once, so that every node has this activation in its fast path (SignatureHints).
    assert t.x.verify("POST", "/login", phone.sign("POST", "/login", b"{}", KNOWLEDGE_FACTORS), b"{}")["signatureValid"]
    header = phone.sign("POST", "/login", b"{}", KNOWLEDGE_FACTORS)
    stolen = t.y.verify_raw({"method": "POST", "uriId": "/login", "authHeader": header,
                             "requestBody": base64.b64encode(b"{}").decode()})
    assert stolen.status_code != 200 or stolen.json().get("signatureValid") is not True, stolen.text
    assert stolen.status_code < 500, stolen.text
    # The signature was not consumed: its owner verifies it once now.
    assert t.x.verify("POST", "/login", header, b"{}")["signatureValid"] is True

    token_id, token_secret = phone.create_token()
    token_header = phone.token_header(token_id, token_secret)
    foreign = t.y.verify_token_raw(token_header)
    assert foreign.status_code != 200 or foreign.json().get("tokenValid") is not True, foreign.text
    assert foreign.status_code < 500, foreign.text
    assert t.x.verify_token(phone.token_header(token_id, token_secret))["tokenValid"] is True
    assert t.x.registration(registration["registrationId"])["registrationStatus"] == "ACTIVE"


def test_integration_users_reach_only_their_applications_operations(server, tenants):
    t = tenants
    created = t.x.session.post(t.x.url("/operations"), data=json.dumps({
        "userId": t.u1, "template": "default.payment",
        "parameters": {"amount": "5.00", "currency": "EUR", "account": "DE02"}}))
    assert created.status_code == 200, created.text
    operation_id = created.json()["operationId"]
    refused(t.y.session.get(t.y.url(f"/operations/{operation_id}")), 404)
    refused(t.y.session.delete(t.y.url(f"/operations/{operation_id}")), 404)
    listed = t.y.session.get(t.y.url("/operations"), params={"userId": t.u1})
    assert listed.status_code == 200 and operation_id not in listed.text, listed.text
    assert t.x.session.get(t.x.url(f"/operations/{operation_id}")).json()["status"] == "PENDING"


def test_webhook_delivery_logs_are_per_subscriber(server, tenants):
    t = tenants
    # X's application has deliveries (registrations and operations above, or make one now).
    create_registration(t.x, t.app_x)
    mine = t.x.session.get(t.x.url("/webhooks/deliveries"))
    assert mine.status_code == 200 and mine.json()["deliveries"], mine.text
    delivery_id = mine.json()["deliveries"][0]["id"]
    theirs = t.y.session.get(t.y.url("/webhooks/deliveries"))
    assert theirs.status_code == 200 and delivery_id not in theirs.text
    refused(t.y.session.post(t.y.url(f"/webhooks/deliveries/{delivery_id}/retry"), data="{}"), 404)
    # The OAuth face: a client neither sees nor retries an application's or another client's deliveries.
    refused(requests.post(server.url(f"/v2/webhooks/deliveries/{delivery_id}/retry"), auth=t.b, timeout=10), 404)
    assert delivery_id not in requests.get(server.url("/v2/webhooks/deliveries"), auth=t.b, timeout=10).text


# --- Shine action requests and their tokens ---------------------------------------------------------


def test_clients_reach_only_their_action_requests_and_tokens(server, tenants):
    t = tenants
    payload = {"amount": 77, "bankTransferRecipientId": "R"}
    created = requests.post(server.url("/v2/authentication/oauth2/action_request"), timeout=10, json={
        "action": "bank:transfers:create", "client_id": t.a[0], "client_secret": t.a[1], "uid": t.u1_sub, "payload": payload})
    assert created.status_code == 201, created.text
    request_id = created.json()["data"]["authenticationActionRequestId"]
    poll = f"/v2/authentication/oauth2/action_request/{request_id}/poll"
    refused(requests.get(server.url(poll), params={"client_id": t.b[0], "client_secret": t.b[1]}, timeout=10), 403, 404)
    refused(requests.post(server.url(poll), json={"client_id": t.b[0], "client_secret": t.b[1]}, timeout=10), 403, 404)

    approve_on_phone(server, t.u1_headers, t.u1_phone, t.u1_device, request_id)
    token = requests.post(server.url(poll), json={"client_id": t.a[0], "client_secret": t.a[1]}, timeout=10).json()["data"]["token"]
    # Client B presents A's token: refused, and the token is not spent.
    refused(requests.post(server.url("/v2/authentication/oauth2/action_request/verify"), timeout=10, json={
        "client_id": t.b[0], "client_secret": t.b[1], "token": token, "action": "bank:transfers:create", "payload": payload}),
        400, 401, 403, 404)
    b_token = requests.post(server.url("/oauth/token"), auth=t.b, data={"grant_type": "client_credentials"}, timeout=10).json()
    refused(requests.post(server.url("/v3/bank/transfers"), json=payload, timeout=10, headers={
        "Authorization": "Bearer " + b_token["access_token"], "short-lived-token": token}), 401, 403)
    owner = requests.post(server.url("/v2/authentication/oauth2/action_request/verify"), timeout=10, json={
        "client_id": t.a[0], "client_secret": t.a[1], "token": token, "action": "bank:transfers:create", "payload": payload})
    assert owner.status_code == 200, owner.text
    # The client-face delivery log: A's action request callbacks are A's alone.
    a_log = requests.get(server.url("/v2/webhooks/deliveries"), auth=t.a, timeout=10).json()["deliveries"]
    assert any(request_id in delivery["body"] for delivery in a_log)
    assert request_id not in requests.get(server.url("/v2/webhooks/deliveries"), auth=t.b, timeout=10).text
    refused(requests.post(server.url(f"/v2/webhooks/deliveries/{a_log[0]['id']}/retry"), auth=t.b, timeout=10), 404)


# --- finAPI processes and users ---------------------------------------------------------------------


def test_processes_and_users_belong_to_their_client(server, tenants):
    t = tenants
    identities = {}
    for name, (client_id, secret) in (("a", t.a), ("b", t.b)):
        created = requests.post(server.url("/api/v1/processes"), timeout=10, json={
            "clientId": client_id, "clientSecret": secret, "clientReferences": [{"clientReference": "same-reference"}],
            "processId": "USER_ONLY"})
        assert created.status_code == 201, created.text
        token = created.json()["processes"][0]["processToken"]
        access = requests.get(server.url(f"/api/v1/processes/{token}"), timeout=10).json()["accessToken"]
        me = requests.get(server.url("/api/v2/users"), headers={"Authorization": "Bearer " + access}, timeout=10).json()
        identities[name] = (me["id"], access)
    assert identities["a"][0] != identities["b"][0], "one client reference, two clients: two identities"
    # Neither client logs in the other's identity, nor a user the other created.
    refused(requests.post(server.url("/oauth/token"), auth=t.b, timeout=10, data={
        "grant_type": "password", "username": identities["a"][0], "password": "x" * 12}), 400)
    a_client_token = requests.post(server.url("/oauth/token"), auth=t.a, data={"grant_type": "client_credentials"},
                                   timeout=10).json()["access_token"]
    created = requests.post(server.url("/api/v2/users"), headers={"Authorization": "Bearer " + a_client_token}, timeout=10,
                            json={"id": server.unique("iso-finapi"), "password": "iso-finapi-password"})
    assert created.status_code == 201, created.text
    foreign_login = requests.post(server.url("/oauth/token"), auth=t.b, timeout=10, data={
        "grant_type": "password", "username": created.json()["id"], "password": "iso-finapi-password"})
    refused(foreign_login, 400)
    assert requests.post(server.url("/oauth/token"), auth=t.a, timeout=10, data={
        "grant_type": "password", "username": created.json()["id"], "password": "iso-finapi-password"}).status_code == 200
    # B cannot revoke A's user's token (RFC 7009: foreign tokens are ignored), which stays live.
    access_a = identities["a"][1]
    assert requests.post(server.url("/oauth/revoke"), auth=t.b, data={"token": access_a}, timeout=10).status_code == 200
    assert requests.post(server.url("/oauth/introspect"), auth=t.a, data={"token": access_a}, timeout=10).json()["active"] is True
    # Nor learn anything about it by introspection (RFC 7662 §4): exactly what an unknown token gets.
    assert requests.post(server.url("/oauth/introspect"), auth=t.b, data={"token": access_a}, timeout=10).json() == {
        "active": False}


# --- end users: devices, challenges, approvals ----------------------------------------------------


def test_end_users_reach_only_their_own_devices_and_approvals(server, tenants):
    t = tenants
    u1_device, u2 = t.u1_device, t.u2_headers
    assert u1_device not in requests.get(server.url("/api/user/devices"), headers=u2, timeout=10).text
    refused(requests.post(server.url(f"/api/user/devices/{u1_device}/challenges"), headers=u2, timeout=10), 403, 404)
    # With fresh two factors (as removing needs), u2 still cannot remove u1's device.
    u2_confirmed = confirmed_headers(server, u2, t.u2_phone, t.u2_device)
    refused(requests.delete(server.url(f"/api/user/devices/{u1_device}"), headers=u2_confirmed, timeout=10), 403, 404)

    created = t.x.session.post(t.x.url("/operations"), data=json.dumps({
        "userId": t.u1, "template": "default.payment", "parameters": {"amount": "6.00", "currency": "EUR", "account": "DE02"}}))
    operation_id = created.json()["operationId"]
    assert operation_id not in requests.get(server.url("/api/user/approvals"), headers=u2, timeout=10).text
    [approval] = [item for item in requests.get(server.url("/api/user/approvals"), headers=t.u1_headers, timeout=10).json()
                  if item["id"] == operation_id]
    data = approval["data"]
    # U2 approves U1's operation with U2's own device, and with U1's device id: both refused.
    for device_id, phone in ((t.u2_device, t.u2_phone), (u1_device, t.u2_phone)):
        refused(requests.post(server.url(f"/api/user/approvals/{operation_id}/approve"), headers=u2, timeout=10, json={
            "deviceId": device_id, "data": data, "signature": phone.sign(approval["stringToSign"])}), 403, 404)
    refused(requests.post(server.url(f"/api/user/approvals/{operation_id}/reject"), headers=u2, timeout=10, json={
        "deviceId": t.u2_device, "signature": t.u2_phone.sign(f"{operation_id}:REJECTED")}), 403, 404)
    shown = t.x.session.get(t.x.url(f"/operations/{operation_id}")).json()
    assert shown["status"] == "PENDING" and shown["failureCount"] == 0, shown
    # U1's device still works, and U1 still decides.
    approve_on_phone(server, t.u1_headers, t.u1_phone, u1_device, operation_id)
    assert t.x.session.get(t.x.url(f"/operations/{operation_id}")).json()["status"] == "APPROVED"
    assert u1_device in requests.get(server.url("/api/user/devices"), headers=t.u1_headers, timeout=10).text
