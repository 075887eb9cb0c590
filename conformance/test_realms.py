"""Realms (issue 14, item 2): tenants no longer share one username namespace.

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
    import subprocess

    import conftest
    result = subprocess.run([str(conftest.BINARY), "clients", "create", "--id", server.unique("no-realm"), "--realm",
                             server.unique("missing"), *conftest._database_args()], cwd=server.workdir, env=server.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "realm" in (result.stderr + result.stdout)
