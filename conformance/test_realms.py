"""Realms (docs/security-model.md): tenants no longer share one username namespace.

Before realms, the integration user of application X registering `userId: "alice"` made a device
of the `alice` an OAuth client C had created through `/api/v2/users`: it listed in her
`GET /api/user/devices`, and the mobile token API offered it C's action requests for her. A client
of another tenant creating an action request for `alice` learnt from the answer that she existed.

Here every tenant is a realm: X's `alice` and C's `alice` are two users; nothing of one is shown,
offered or told apart to the other. Runs on SQLite and on PostgreSQL.
"""
import json

import pytest
import requests

from test_action_requests import username_of
from test_powerauth import Cloud, activated_phone


def client_token(server, client):
    answer = requests.post(server.url("/oauth/token"), auth=client, data={"grant_type": "client_credentials"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def password_token(server, client, username, password):
    return requests.post(server.url("/oauth/token"), auth=client, timeout=10,
                         data={"grant_type": "password", "username": username, "password": password})


def finapi_create(server, client, user_id, password):
    return requests.post(server.url("/api/v2/users"), timeout=10, json={"id": user_id, "password": password},
                         headers={"Authorization": "Bearer " + client_token(server, client)})


def action_request(server, client, uid, amount=1):
    return requests.post(server.url("/v2/authentication/oauth2/action_request"), timeout=10, json={
        "action": "bank:transfers:create", "client_id": client[0], "client_secret": client[1], "uid": uid,
        "payload": {"amount": amount, "bankTransferRecipientId": "R"}})


def mobile_list(server, phone):
    token_id, token_secret = phone.create_token()
    listed = requests.post(server.url("/enrollment-server/api/auth/token/app/operation/list"), data=b"{}", timeout=10, headers={
        "Content-Type": "application/json", "X-PowerAuth-Token": phone.token_header(token_id, token_secret)})
    assert listed.status_code == 200, listed.text
    return listed.json()["responseObject"]


@pytest.fixture(scope="module")
def realms(server):
    class Realms:
        pass

    r = Realms()
    for name in ("x", "b", "c"):
        realm = server.unique(f"realm-{name}")
        assert server.cli("realms", "create", "--id", realm) == {"id": realm}
        setattr(r, f"realm_{name}", realm)

    def client(name, realm):
        created = server.cli("clients", "create", "--id", server.unique(name), "--scopes", "accounts,transfers",
                             "--grants", "client_credentials,password,refresh_token", "--realm", realm)
        assert created["realm"] == realm, created
        return created["clientId"], created["clientSecret"]

    r.c = client("realm-client-c", r.realm_c)
    r.b = client("realm-client-b", r.realm_b)
    r.app_x = server.cli("apps", "create", "--id", server.unique("realm-app-x"), "--realm", r.realm_x)
    integration = server.cli("integration-users", "create", "--name", server.unique("realm-iu-x"),
                             "--app", r.app_x["applicationId"], "--realm", r.realm_x)
    assert integration["realm"] == r.realm_x, integration
    r.x = Cloud(server, integration["name"], integration["password"])
    # The same username in realm C (created by client C) and in realm X (registered by X).
    created = finapi_create(server, r.c, "alice", "alice-password-c")
    assert created.status_code == 201, created.text
    r.c_alice = {"Authorization": "Bearer " + password_token(server, r.c, "alice", "alice-password-c").json()["access_token"]}
    r.x_phone, r.x_registration = activated_phone(server, r.app_x, r.x, user_id="alice")
    return r


def test_a_registration_for_alice_is_not_a_device_of_another_realms_alice(server, realms):
    r = realms
    rid = r.x_registration["registrationId"]
    devices = requests.get(server.url("/api/user/devices"), headers=r.c_alice, timeout=10)
    assert devices.status_code == 200, devices.text
    assert rid not in devices.text
    # X's integration user sees its own registration of its own alice.
    listed = r.x.registrations("alice")
    assert listed.status_code == 200 and rid in listed.text, listed.text


def test_another_realms_action_requests_are_not_offered_to_the_phone(server, realms):
    r = realms
    created = action_request(server, r.c, "alice")
    assert created.status_code == 201, created.text
    request_id = created.json()["data"]["authenticationActionRequestId"]
    # C's request waits for C's alice (her own list), not on the phone X registered for its alice.
    mine = requests.get(server.url("/api/user/approvals"), headers=r.c_alice, timeout=10)
    assert mine.status_code == 200 and request_id in mine.text, mine.text
    assert request_id not in json.dumps(mobile_list(server, r.x_phone))
    # And an operation X creates for its alice is on X's phone, not in C's alice's list.
    operation = r.x.session.post(r.x.url("/operations"), timeout=10, data=json.dumps({
        "userId": "alice", "template": "default.payment", "parameters": {"amount": "1.00", "currency": "EUR", "account": "DE02"}}))
    assert operation.status_code == 200, operation.text
    operation_id = operation.json()["operationId"]
    assert operation_id in json.dumps(mobile_list(server, r.x_phone))
    assert operation_id not in requests.get(server.url("/api/user/approvals"), headers=r.c_alice, timeout=10).text


def test_another_realms_user_answers_exactly_as_an_unknown_one(server, realms):
    r = realms
    c_alice_id = username_of(r.c_alice, server)
    foreign = action_request(server, r.b, "alice")
    foreign_by_id = action_request(server, r.b, c_alice_id)
    unknown = action_request(server, r.b, server.unique("nobody"))
    assert unknown.status_code == 400, unknown.text
    for answer in (foreign, foreign_by_id):
        assert (answer.status_code, answer.json()) == (unknown.status_code, unknown.json())
    # The password grant: client B cannot log in realm C's alice, and is told nothing more.
    foreign_login = password_token(server, r.b, "alice", "alice-password-c")
    unknown_login = password_token(server, r.b, server.unique("nobody"), "alice-password-c")
    assert foreign_login.status_code == unknown_login.status_code == 400
    assert foreign_login.json() == unknown_login.json()


def test_usernames_are_unique_per_realm_not_per_installation(server, realms):
    r = realms
    # Client B creates its own alice: no 409 that would reveal realm C's alice.
    created = finapi_create(server, r.b, "alice", "alice-password-b")
    assert created.status_code == 201, created.text
    b_alice = password_token(server, r.b, "alice", "alice-password-b")
    assert b_alice.status_code == 200, b_alice.text
    # Within a realm a username is still taken once.
    assert finapi_create(server, r.b, "alice", "another-password").status_code == 409
    # Each alice keeps her own password and her own id; the token names its realm.
    import jwt
    claims = jwt.decode(b_alice.json()["access_token"], options={"verify_signature": False})
    assert claims["realm"] == r.realm_b
    assert claims["sub"] != username_of(r.c_alice, server)
    assert password_token(server, r.c, "alice", "alice-password-b").status_code == 400


def test_the_cli_refuses_an_unknown_realm(server):
    import cluster
    result = cluster.run_cli(server.workdir, server.env, server.database_url, "clients", "create", "--id",
                             server.unique("no-realm"), "--realm", server.unique("missing"))
    assert result.returncode != 0 and "realm" in (result.stderr + result.stdout)


# --- two realms across the faces ------------------------------------------------------------------


def totp(base32_secret: str, at: float) -> str:
    """RFC 6238 (as conformance/test_web_ui.py computes it)."""
    import base64
    import hashlib
    import hmac
    import struct
    key = base64.b32decode(base32_secret + "=" * (-len(base32_secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def csrf_of(html: str) -> str:
    import re
    return re.search(r'name="_csrf" value="([^"]+)"', html).group(1)


@pytest.fixture(scope="module")
def realm_b(server, realms):
    """Realm B with its own application, integration user and operator, and its own alice."""
    r = realms
    app = server.cli("apps", "create", "--id", server.unique("realm-app-b"), "--realm", r.realm_b)
    integration = server.cli("integration-users", "create", "--name", server.unique("realm-iu-b"),
                             "--app", app["applicationId"], "--realm", r.realm_b)
    cloud = Cloud(server, integration["name"], integration["password"])
    phone, registration = activated_phone(server, app, cloud, user_id="alice")
    operator = server.cli("operators", "create", "--username", server.unique("realm-op-b"), "--password", "operator password",
                          "--realm", r.realm_b)
    assert operator["realm"] == r.realm_b, operator
    return {"app": app, "cloud": cloud, "phone": phone, "registration": registration, "operator": operator}


def test_integration_users_of_two_realms_see_only_their_realms_alice(server, realms, realm_b):
    r, b = realms, realm_b
    x_rid, b_rid = r.x_registration["registrationId"], b["registration"]["registrationId"]
    assert b_rid in b["cloud"].registrations("alice", removed=True).text
    assert x_rid not in b["cloud"].registrations("alice", removed=True).text
    assert b_rid not in r.x.registrations("alice", removed=True).text
    # A registration id of the other realm reads as an unknown one.
    foreign = b["cloud"].session.get(b["cloud"].url(f"/registrations/{x_rid}"), timeout=10)
    unknown = b["cloud"].session.get(b["cloud"].url("/registrations/00000000-0000-0000-0000-000000000000"), timeout=10)
    assert foreign.status_code == unknown.status_code == 404 and foreign.json() == unknown.json()
    # B's operation for its alice is on B's phone only, and listed by B only.
    created = b["cloud"].session.post(b["cloud"].url("/operations"), timeout=10, data=json.dumps({
        "userId": "alice", "template": "default.payment", "parameters": {"amount": "2.00", "currency": "EUR", "account": "DE02"}}))
    assert created.status_code == 200, created.text
    operation_id = created.json()["operationId"]
    assert operation_id in json.dumps(mobile_list(server, b["phone"]))
    assert operation_id not in json.dumps(mobile_list(server, r.x_phone))
    assert operation_id not in r.x.session.get(r.x.url("/operations"), params={"userId": "alice"}, timeout=10).text
    assert operation_id not in requests.get(server.url("/api/user/approvals"), headers=r.c_alice, timeout=10).text


def test_an_action_request_of_another_realm_reads_as_unknown(server, realms):
    r = realms
    created = action_request(server, r.c, "alice", amount=3)
    request_id = created.json()["data"]["authenticationActionRequestId"]
    poll = "/v2/authentication/oauth2/action_request/{}/poll"
    foreign = requests.get(server.url(poll.format(request_id)), params={"client_id": r.b[0], "client_secret": r.b[1]}, timeout=10)
    unknown = requests.get(server.url(poll.format("00000000-0000-0000-0000-000000000000")),
                           params={"client_id": r.b[0], "client_secret": r.b[1]}, timeout=10)
    assert foreign.status_code == unknown.status_code and foreign.status_code in (403, 404)


def test_an_operator_of_realm_b_sees_and_counts_only_realm_b(server, realms, realm_b):
    import time
    r, b = realms, realm_b
    c_alice_id = username_of(r.c_alice, server)
    x_rid = r.x_registration["registrationId"]
    browser = requests.Session()
    form = browser.get(server.url("/admin/login"), timeout=10)
    signed_in = browser.post(server.url("/admin/login"), allow_redirects=False, timeout=10, data={
        "_csrf": csrf_of(form.text), "username": b["operator"]["username"], "password": "operator password",
        "totp": totp(b["operator"]["totpSecret"], time.time())})
    assert signed_in.status_code == 303, signed_in.text[:500]
    users = browser.get(server.url("/admin/users"), params={"q": "alice"}, timeout=10).text
    assert f"/admin/users/{c_alice_id}" not in users
    for path in ("/admin", "/admin/devices", "/admin/approvals", "/admin/webhooks", "/admin/audit"):
        page = browser.get(server.url(path), timeout=10)
        assert page.status_code == 200, path
        assert c_alice_id not in page.text and x_rid not in page.text, path
    assert b["registration"]["registrationId"] in browser.get(server.url("/admin/devices"), timeout=10).text
    foreign = browser.get(server.url(f"/admin/devices/{x_rid}"), timeout=10)
    unknown = browser.get(server.url("/admin/devices/00000000-0000-0000-0000-000000000000"), timeout=10)
    assert foreign.status_code == unknown.status_code == 404
    assert browser.get(server.url(f"/admin/users/{c_alice_id}"), timeout=10).status_code == 404
    csrf = csrf_of(browser.get(server.url("/admin"), timeout=10).text)
    assert browser.post(server.url(f"/admin/devices/{x_rid}/block"), data={"_csrf": csrf, "reason": "FRAUD_SUSPECTED"},
                        allow_redirects=False, timeout=10).status_code == 404
    assert r.x.registration(x_rid)["registrationStatus"] == "ACTIVE"
    # The dashboard counts realm B's one user (its alice, of every face) and nobody else.
    dashboard = browser.get(server.url("/admin"), timeout=10).text
    assert 'id="count-users">1<' in dashboard, dashboard[:3000]
