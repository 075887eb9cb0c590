"""Passkeys (issue 17) against the live server through the HTTP API, with Yubico's `fido2` as the
software authenticator (conformance/fido2_authenticator.py, itself checked by py_webauthn in
test_fido2_authenticator_selfcheck.py): registration with the first factor and an SMS OTP, step-up
to a confirmed token, approvals with dynamic linking (a PowerAuth operation, a Shine action
request, a new device), and the refusals: another approval's ceremony, other data, another user's
passkey, replays, a cloned authenticator's counter, attestation policy, wrong origin / rpId / UV /
challenge, garbage, and the same answer raced 20 times (one node; two nodes on PostgreSQL).

A browser only runs WebAuthn on a secure origin whose host is the rp id, and 127.0.0.1 is neither
(fido2's `verify_rp_id`, the browser rule); so the passkey nodes run beside the session's server on
the suite's database with rp id `localhost`, and the authenticator's browser sits at
`http://localhost:<port>` (Chromium's and fido2's rule: http://localhost is a secure context),
while the test sends its requests to 127.0.0.1 (a hostname is only a string in clientDataJSON).
The main node sets `webauthn.rpId` and `webauthn.origins`; the attestation node leaves both to
their defaults, taken from its issuer `http://localhost:<port>`.
"""
import base64
import hashlib
import json
import os
import re
import sqlite3
import tempfile
from pathlib import Path

import jwt
import pytest
import requests
from fido2 import cbor
from fido2.webauthn import AttestationObject

import cluster
import conftest
from fido2_authenticator import AttestationCA, SoftwareAuthenticator, b64url
from test_devices import Phone, new_sms, sms_count

TIMEOUT = 15
TWO_FACTOR = "urn:strongauth:acr:2fa"
STEP_UP = ('Bearer error="insufficient_user_authentication", error_description="This action needs two-factor '
           'authentication within the last 300 seconds.", acr_values="urn:strongauth:acr:2fa", max_age=300')
PROBLEM = "application/problem+json"


# --------------------------------------------------------------------------------------------------
# The passkey nodes and their users
# --------------------------------------------------------------------------------------------------

def start_passkey_node(server, name, **settings):
    """A node of the session's cluster (same database, same work directory, so the same SMS file) on a
    port chosen first, so that its WebAuthn origin can name it; `settings` are STRONGAUTH_* variables
    with `{port}` filled in. Returns the node and a `server`-like object whose `url()` is this node."""
    port = conftest._free_port()
    env = cluster.peer_env(server, **{key: str(value).format(port=port) for key, value in settings.items()})
    node = cluster.Node(name, server.workdir, env, port=port)
    node.start()
    face = cluster.RoundRobin(server, [node.base])
    face.origin = f"http://localhost:{port}"
    face.node = node
    return node, face


@pytest.fixture(scope="module")
def sa(server):
    """The main passkey node: rp id `localhost`, its browser origin the only allowed one."""
    node, face = start_passkey_node(server, "passkeys", STRONGAUTH_WEBAUTHN_RP_ID="localhost",
                                    STRONGAUTH_WEBAUTHN_ORIGINS="http://localhost:{port}")
    try:
        yield face
    finally:
        code = node.stop()
    assert code == 0, f"the passkey node did not stop cleanly: {code}\n{node.log_tail()}"


@pytest.fixture(scope="module")
def client(sa):
    return sa.create_client("passkey-app")


class User:
    """An end user with a password token (1fa) and a phone number for her SMS OTPs."""

    def __init__(self, sa, client, name):
        self.sa = sa
        self.client = client
        self.phone = "+49151" + str(int.from_bytes(os.urandom(4), "big") % 10**8).zfill(8)
        self.username = sa.unique(name)
        created = sa.cli("users", "create", "--username", self.username, "--password", "user-password", "--phone", self.phone)
        self.id = created["id"]
        token = requests.post(sa.url("/oauth/token"), auth=client, timeout=TIMEOUT,
                              data={"grant_type": "password", "username": self.username, "password": "user-password"})
        assert token.status_code == 200, token.text
        self.headers = bearer(token.json()["access_token"])

    def post(self, path, body=None, headers=None, **kwargs):
        return requests.post(self.sa.url(path), headers=headers or self.headers, timeout=TIMEOUT,
                             **({"json": body} if body is not None else {}), **kwargs)

    def devices(self):
        listed = requests.get(self.sa.url("/api/user/devices"), headers=self.headers, timeout=TIMEOUT)
        assert listed.status_code == 200, listed.text
        return listed.json()

    def device(self, device_id):
        return next(device for device in self.devices() if device["id"] == device_id)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def assert_problem(response, status):
    assert response.status_code == status, f"{response.status_code} (expected {status}): {response.text[:600]}"
    assert response.headers["Content-Type"].startswith(PROBLEM), response.headers
    body = response.json()
    assert body["status"] == status, body
    return body


def assert_refused(response, statuses=(400,)):
    """A refusal of bad input: a 4xx problem (one of `statuses`), never a 5xx."""
    assert response.status_code in statuses, f"{response.status_code} (expected one of {statuses}): {response.text[:600]}"
    assert response.headers["Content-Type"].startswith(PROBLEM), response.headers
    return response.json()


def registration_options(user, name="My passkey", headers=None):
    response = user.post("/api/user/passkeys/registration/options", {"name": name} if name is not None else {}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def sms_otp_for(user, before):
    return new_sms(user.sa, user.phone, before)


def begin_registration(user, headers=None, name="My passkey"):
    """Options for a registration and, when the server sent one, the SMS OTP it needs."""
    before = sms_count(user.sa, user.phone)
    options = registration_options(user, name=name, headers=headers)
    otp = sms_otp_for(user, before) if options["otpRequired"] else None
    return options, otp


def finish_registration(user, options, otp, credential, headers=None):
    body = {"ceremonyId": options["ceremonyId"], "credential": credential}
    if otp is not None:
        body["otp"] = otp
    return user.post("/api/user/passkeys/registration", body, headers=headers)


def register(user, authenticator, headers=None, name="My passkey", **knobs):
    """A passkey registered end to end (the SMS OTP when the server asks for one); the device JSON."""
    options, otp = begin_registration(user, headers=headers, name=name)
    response = finish_registration(user, options, otp, authenticator.create(options["publicKey"], **knobs), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def authentication_options(user, headers=None):
    response = user.post("/api/user/passkeys/authentication/options", {}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def step_up(user, authenticator, headers=None, **knobs):
    """The API step-up with a passkey: options, assertion, the answer (not checked)."""
    options = authentication_options(user, headers=headers)
    credential = authenticator.get(options["publicKey"], **knobs)
    return user.post("/api/user/passkeys/authentication", {"ceremonyId": options["ceremonyId"], "credential": credential},
                     headers=headers)


def step_up_refused(user, authenticator, statuses=(400, 403, 409)):
    """A step-up that must not give a token: refused at the options (no usable passkey) or at the assertion."""
    options = user.post("/api/user/passkeys/authentication/options", {})
    if options.status_code != 200:
        return assert_refused(options, statuses)
    credential = authenticator.get(options.json()["publicKey"], browser=False)
    return assert_refused(user.post("/api/user/passkeys/authentication",
                                    {"ceremonyId": options.json()["ceremonyId"], "credential": credential}), statuses)


def confirmed_token(user, authenticator):
    response = step_up(user, authenticator)
    assert response.status_code == 200, response.text
    return response.json()["token"]


def user_with_passkey(sa, client, name, **authenticator_options):
    user = User(sa, client, name)
    authenticator = SoftwareAuthenticator(sa.origin, **authenticator_options)
    device = register(user, authenticator)
    return user, authenticator, device


def cose_key_hex(credential):
    """The credential public key as COSE bytes in hex (what GET /api/user/devices shows as publicKey)."""
    attestation = AttestationObject(base64.urlsafe_b64decode(credential["response"]["attestationObject"] + "=="))
    return cbor.encode(attestation.auth_data.credential_data.public_key).hex()


def audit_records(sa, action):
    """(subject, outcome, details) of every audit record with this action, journal and sealed chain alike."""
    columns = "subject, outcome, details"
    query = f"SELECT {columns} FROM audit_events WHERE action = '{action}'"
    if conftest.DATABASE_URL:
        query += f" UNION ALL SELECT {columns} FROM audit_journal WHERE action = '{action}'" \
            if cluster.psql(conftest.DATABASE_URL, "SELECT to_regclass('audit_journal') IS NOT NULL") == "t" else ""
        rows = [line.split("|", 2) for line in cluster.psql(conftest.DATABASE_URL, query).splitlines() if line.strip()]
    else:
        query += f" UNION ALL SELECT {columns} FROM audit_journal WHERE action = '{action}'"
        with sqlite3.connect(sa.workdir / "data" / "strongauth.sqlite", timeout=10) as database:
            rows = database.execute(query).fetchall()
    return [(subject, outcome, json.loads(details)) for subject, outcome, details in rows]


def stored_passkey(sa, device_id):
    """The passkeys row of a device, as a dict (what the server recorded of the registration)."""
    columns = ["credential_id", "algorithm", "sign_count", "aaguid", "attestation_format", "attestation_certified",
               "backup_eligible", "backup_state"]
    query = f"SELECT {', '.join(columns)} FROM passkeys WHERE device_id = '{device_id}'"
    if conftest.DATABASE_URL:
        row = cluster.psql(conftest.DATABASE_URL, query).split("|")
    else:
        with sqlite3.connect(sa.workdir / "data" / "strongauth.sqlite", timeout=10) as database:
            row = database.execute(query).fetchone()
    return {column: str(value) for column, value in zip(columns, row)}


# --------------------------------------------------------------------------------------------------
# Registration and step-up
# --------------------------------------------------------------------------------------------------

def test_register_with_the_first_factor_and_an_sms_otp_then_step_up_to_a_confirmed_token(sa, client):
    user = User(sa, client, "pk-first")
    authenticator = SoftwareAuthenticator(sa.origin)
    before = sms_count(sa, user.phone)
    options = registration_options(user, name="Laptop passkey")
    assert options["otpRequired"] is True, options
    public_key = options["publicKey"]
    assert public_key["rp"]["id"] == "localhost" and public_key["rp"]["name"], public_key
    assert public_key["user"]["name"] == user.username and public_key["user"]["displayName"], public_key
    assert len(base64.urlsafe_b64decode(public_key["user"]["id"] + "==")) >= 1, public_key
    assert "=" not in public_key["challenge"] and len(base64.urlsafe_b64decode(public_key["challenge"] + "==")) == 32
    assert sorted(param["alg"] for param in public_key["pubKeyCredParams"]) == [-257, -8, -7], public_key
    assert all(param["type"] == "public-key" for param in public_key["pubKeyCredParams"])
    assert public_key["authenticatorSelection"] == {"residentKey": "required", "requireResidentKey": True,
                                                    "userVerification": "required"}, public_key
    assert public_key["attestation"] == "none" and public_key["excludeCredentials"] == []
    assert public_key["timeout"] > 0

    credential = authenticator.create(public_key)
    otp = sms_otp_for(user, before)
    missing = finish_registration(user, options, None, credential)
    assert missing.status_code in (400, 403), missing.text  # the OTP is not optional for a first factor token
    created = finish_registration(user, options, otp, credential)
    assert created.status_code == 201, created.text
    device = created.json()
    assert device["kind"] == "passkey" and device["status"] == "ACTIVE" and device["name"] == "Laptop passkey", device

    listed = user.devices()
    assert [(item["id"], item["kind"], item["status"]) for item in listed] == [(device["id"], "passkey", "ACTIVE")], listed
    assert listed[0]["publicKey"] == cose_key_hex(credential), listed

    response = step_up(user, authenticator)
    assert response.status_code == 200, response.text
    tokens = response.json()
    jwks = jwt.PyJWKClient(sa.url("/.well-known/jwks.json"))
    claims = jwt.decode(tokens["token"], jwks.get_signing_key_from_jwt(tokens["token"]).key, algorithms=["ES256"],
                        audience=client[0])
    assert claims["acr"] == TWO_FACTOR and claims["sub"] == user.id, claims
    # Bound to the passkey like a device's confirmed token (cnf.kid), with RFC 8176 methods: password, hardware key, UV.
    assert claims["cnf"] == {"kid": device["id"]} and claims["amr"] == ["pwd", "hwk", "user"], claims
    # The shape of POST /api/user/devices/{id}/challenges/{cid}/verify (ConfirmedTokens), refresh token included.
    assert set(tokens) == {"token", "refresh_token", "expires_in", "scope"} and tokens["expires_in"] > 0, tokens
    refreshed = requests.post(sa.url("/oauth/token"), auth=client, timeout=TIMEOUT,
                              data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    renewed = jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})
    assert renewed["acr"] == TWO_FACTOR and renewed["cnf"] == {"kid": device["id"]}, renewed
    password = jwt.decode(user.headers["Authorization"][7:], options={"verify_signature": False})
    assert password["acr"] == "urn:strongauth:acr:1fa" and claims["auth_time"] >= password["auth_time"]
    # The confirmed token works where a fresh two-factor token is needed.
    assert requests.get(sa.url("/api/user/devices"), headers=bearer(tokens["token"]), timeout=TIMEOUT).status_code == 200


def test_a_second_passkey_needs_a_fresh_two_factor_token(sa, client):
    user, first, device = user_with_passkey(sa, client, "pk-second")
    refused = user.post("/api/user/passkeys/registration/options", {"name": "Another"})
    assert_problem(refused, 401)
    assert refused.headers["WWW-Authenticate"] == STEP_UP

    confirmed = bearer(confirmed_token(user, first))
    options = registration_options(user, name="Phone passkey", headers=confirmed)
    assert options["otpRequired"] is False, options
    excluded = [descriptor["id"] for descriptor in options["publicKey"]["excludeCredentials"]]
    assert excluded == [b64url(first.credential().credential_id)], options
    second = SoftwareAuthenticator(sa.origin, algorithm=-8)
    created = finish_registration(user, options, None, second.create(options["publicKey"]), headers=confirmed)
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "passkey" and created.json()["status"] == "ACTIVE", created.text
    assert sorted(item["status"] for item in user.devices()) == ["ACTIVE", "ACTIVE"]

    # Either passkey steps up now, and the step-up names only the user's ACTIVE passkeys.
    allowed = {item["id"] for item in authentication_options(user)["publicKey"]["allowCredentials"]}
    assert allowed == {b64url(first.credential().credential_id), b64url(second.credential().credential_id)}
    assert step_up(user, second).status_code == 200


def test_a_bound_phone_also_makes_the_passkey_a_step_up_matter(sa, client):
    """Any ACTIVE device counts as the bound device: a Kontist phone bound first, then a passkey with the password alone → 401."""
    from test_devices import bind
    user = User(sa, client, "pk-phone-first")
    bind(sa, user.headers, Phone(), user.phone)
    assert_problem(user.post("/api/user/passkeys/registration/options", {"name": "x"}), 401)


def test_a_first_passkey_without_a_phone_number_is_409(sa, client):
    username = sa.unique("pk-nophone")
    sa.cli("users", "create", "--username", username, "--password", "user-password")
    token = requests.post(sa.url("/oauth/token"), auth=client, timeout=TIMEOUT,
                          data={"grant_type": "password", "username": username, "password": "user-password"}).json()
    refused = requests.post(sa.url("/api/user/passkeys/registration/options"), headers=bearer(token["access_token"]),
                            json={"name": "x"}, timeout=TIMEOUT)
    assert_problem(refused, 409)


def test_a_wrong_otp_is_counted_and_the_ceremony_dies_after_three(sa, client):
    user = User(sa, client, "pk-otp")
    authenticator = SoftwareAuthenticator(sa.origin)
    options, otp = begin_registration(user)
    credential = authenticator.create(options["publicKey"])
    wrong = [code for code in ("000000", "111111", "222222", "333333") if code != otp][:3]
    for code in wrong:
        assert_problem(finish_registration(user, options, code, credential), 403)
    assert_problem(finish_registration(user, options, otp, credential), 409)
    assert user.devices() == []


def test_a_ceremony_is_single_use_and_a_replayed_assertion_is_refused(sa, client):
    user, authenticator, _ = user_with_passkey(sa, client, "pk-replay")
    options = authentication_options(user)
    body = {"ceremonyId": options["ceremonyId"], "credential": authenticator.get(options["publicKey"])}
    assert user.post("/api/user/passkeys/authentication", body).status_code == 200
    replayed = user.post("/api/user/passkeys/authentication", body)
    assert_refused(replayed, (400, 403, 409))
    # The same assertion under a new ceremony: its challenge is not this one's.
    fresh = authentication_options(user)
    assert_refused(user.post("/api/user/passkeys/authentication", dict(body, ceremonyId=fresh["ceremonyId"])), (400, 403))

    # A registration ceremony is single use too.
    confirmed = bearer(confirmed_token(user, authenticator))
    options = registration_options(user, headers=confirmed)
    credential = SoftwareAuthenticator(sa.origin).create(options["publicKey"])
    assert finish_registration(user, options, None, credential, headers=confirmed).status_code == 201
    again = finish_registration(user, options, None, SoftwareAuthenticator(sa.origin).create(options["publicKey"]),
                                headers=confirmed)
    assert_problem(again, 409)
    assert len(user.devices()) == 2


def test_another_users_passkey_cannot_step_up(sa, client):
    user, _, _ = user_with_passkey(sa, client, "pk-victim")
    _, thief, _ = user_with_passkey(sa, client, "pk-thief")
    options = authentication_options(user)
    stolen = thief.get(options["publicKey"], browser=False, credential_id=thief.credential().credential_id)
    refused = user.post("/api/user/passkeys/authentication", {"ceremonyId": options["ceremonyId"], "credential": stolen})
    assert_refused(refused, (400, 403))


def test_a_cloned_authenticators_counter_regression_blocks_the_passkey(sa, client):
    user, authenticator, device = user_with_passkey(sa, client, "pk-clone")
    clone = authenticator.clone()
    for _ in range(3):
        assert step_up(user, authenticator).status_code == 200  # counter 3
    waiting = authentication_options(user)  # a ceremony opened before the block, answered after it
    regressed = step_up(user, clone)  # counter 1
    assert_problem(regressed, 403)
    assert user.device(device["id"])["status"] == "BLOCKED"
    records = [record for record in audit_records(sa, "passkey.counter_regression")
               if device["id"] in (record[0] or "") or device["id"] in json.dumps(record[2])]
    assert len(records) == 1, audit_records(sa, "passkey.counter_regression")
    # Blocked: the genuine authenticator is refused too (its counter, 4, would be fine), on a ceremony
    # opened before the block and on a new one; the step-up options name no passkey.
    late = user.post("/api/user/passkeys/authentication",
                     {"ceremonyId": waiting["ceremonyId"], "credential": authenticator.get(waiting["publicKey"])})
    assert_problem(late, 403)
    options = user.post("/api/user/passkeys/authentication/options", {})
    if options.status_code == 200:
        assert options.json()["publicKey"]["allowCredentials"] == [], options.text
    step_up_refused(user, authenticator)


def test_removing_a_passkey_needs_a_fresh_two_factor_token(sa, client):
    user, authenticator, device = user_with_passkey(sa, client, "pk-remove")
    assert_problem(requests.delete(sa.url(f"/api/user/devices/{device['id']}"), headers=user.headers, timeout=TIMEOUT), 401)
    confirmed = bearer(confirmed_token(user, authenticator))
    waiting = authentication_options(user)  # a ceremony opened before the removal, answered after it
    removed = requests.delete(sa.url(f"/api/user/devices/{device['id']}"), headers=confirmed, timeout=TIMEOUT)
    assert removed.status_code == 204, removed.text
    assert user.devices() == []
    late = user.post("/api/user/passkeys/authentication",
                     {"ceremonyId": waiting["ceremonyId"], "credential": authenticator.get(waiting["publicKey"])})
    assert_refused(late, (403,))
    step_up_refused(user, authenticator)
    # The confirmed token died with the passkey it was bound to (as a removed device's tokens do).
    assert requests.post(sa.url("/oauth/introspect"), auth=client, data={"token": confirmed["Authorization"][7:]},
                         timeout=TIMEOUT).json() == {"active": False}


# --------------------------------------------------------------------------------------------------
# Approvals with dynamic linking
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def integration(sa):
    app_id = sa.unique("pk-ops-app")
    sa.cli("apps", "create", "--id", app_id)
    created = sa.cli("integration-users", "create", "--name", sa.unique("pk-ops-user"), "--app", app_id)
    return created["name"], created["password"]


def create_operation(sa, integration, user, amount="63.99", account="CZ32493745329497374923"):
    created = requests.post(sa.url("/powerauth-cloud/v2/operations"), auth=integration, timeout=TIMEOUT, json={
        "userId": user.username, "template": "default.payment",
        "parameters": {"amount": amount, "currency": "EUR", "account": account}})
    assert created.status_code == 200, created.text
    return created.json()["operationId"]


def operation(sa, integration, operation_id):
    return requests.get(sa.url(f"/powerauth-cloud/v2/operations/{operation_id}"), auth=integration, timeout=TIMEOUT).json()


def approval_options(user, approval_id):
    response = user.post(f"/api/user/approvals/{approval_id}/passkey/options", {})
    assert response.status_code == 200, response.text
    return response.json()


def approve(user, approval_id, options, credential, data=None):
    return user.post(f"/api/user/approvals/{approval_id}/passkey", {
        "ceremonyId": options["ceremonyId"], "data": options["data"] if data is None else data, "credential": credential})


def test_approve_an_operation_with_a_passkey(sa, client, integration):
    user, authenticator, _ = user_with_passkey(sa, client, "pk-operation")
    operation_id = create_operation(sa, integration, user)
    pending = requests.get(sa.url("/api/user/approvals"), headers=user.headers, timeout=TIMEOUT).json()
    listed = next(item for item in pending if item["id"] == operation_id)
    options = approval_options(user, operation_id)
    assert options["data"] == listed["data"] == "A1*A63.99EUR*ICZ32493745329497374923", options
    assert options["title"] and options["message"], options
    public_key = options["publicKey"]
    assert public_key["userVerification"] == "required" and public_key["rpId"] == "localhost", public_key
    assert [item["id"] for item in public_key["allowCredentials"]] == [b64url(authenticator.credential().credential_id)]
    assert len(base64.urlsafe_b64decode(public_key["challenge"] + "==")) == 32
    # The challenge is bound to the data (SHA-256 of "approve:<id>:<data>" and a nonce): never the bare hash.
    bare = hashlib.sha256(f"approve:{operation_id}:{options['data']}".encode()).digest()
    assert public_key["challenge"] != b64url(bare)

    approved = approve(user, operation_id, options, authenticator.get(public_key))
    assert approved.status_code == 200, approved.text
    assert approved.json() == {"id": operation_id, "status": "APPROVED"}
    assert operation(sa, integration, operation_id)["status"] == "APPROVED"


def test_approve_a_shine_action_request_and_the_clients_poll_turns_confirmed(sa, client):
    user, authenticator, _ = user_with_passkey(sa, client, "pk-shine")
    client_id, client_secret = client
    payload = {"amount": 234, "bankTransferRecipientId": "BANK_TRANSFER_RECIPIENT_ID", "uid": user.username}
    created = requests.post(sa.url("/v2/authentication/oauth2/action_request"), timeout=TIMEOUT, json={
        "action": "bank:transfers:create", "client_id": client_id, "client_secret": client_secret, "uid": user.username,
        "payload": payload})
    assert created.status_code in (200, 201), created.text
    request_id = created.json()["data"]["authenticationActionRequestId"]
    poll = sa.url(f"/v2/authentication/oauth2/action_request/{request_id}/poll")
    credentials = {"client_id": client_id, "client_secret": client_secret}
    assert requests.get(poll, params=credentials, timeout=TIMEOUT).json()["data"]["status"] == "PENDING"

    options = approval_options(user, request_id)
    assert options["data"].startswith("bank:transfers:create\n") and '"amount":234' in options["data"], options
    approved = approve(user, request_id, options, authenticator.get(options["publicKey"]))
    assert approved.status_code == 200 and approved.json()["status"] == "APPROVED", approved.text
    confirmed = requests.get(poll, params=credentials, timeout=TIMEOUT).json()["data"]
    assert confirmed["status"] == "CONFIRMED" and confirmed["token"], confirmed


def test_approve_a_new_device_with_a_passkey(sa, client):
    """A passkey is the bound device: a phone bound later waits in PENDING_COMMIT until the passkey approves it."""
    from test_devices import bind
    user, authenticator, _ = user_with_passkey(sa, client, "pk-newdevice")
    phone_id = bind(sa, user.headers, Phone(), user.phone)
    assert user.device(phone_id)["status"] == "PENDING_COMMIT"
    pending = requests.get(sa.url("/api/user/approvals"), headers=user.headers, timeout=TIMEOUT).json()
    # Its data names the new device and its key's fingerprint (ApprovalService.newDeviceApproval).
    approval = next(item for item in pending if item["data"].startswith('A2*NApprove the new device "iPhone XS"'))
    options = approval_options(user, approval["id"])
    approved = approve(user, approval["id"], options, authenticator.get(options["publicKey"]))
    assert approved.status_code == 200 and approved.json()["status"] == "APPROVED", approved.text
    assert user.device(phone_id)["status"] == "ACTIVE"


def test_dynamic_linking_refusals_are_counted_until_the_approval_fails(sa, client, integration):
    user, authenticator, _ = user_with_passkey(sa, client, "pk-linking")
    _, thief, _ = user_with_passkey(sa, client, "pk-linking-thief")
    first = create_operation(sa, integration, user, amount="10.00")
    target = create_operation(sa, integration, user, amount="999.00", account="GB33BUKB20201555555555")
    max_failures = operation(sa, integration, target)["maxFailureCount"]
    assert max_failures == 5

    def refused(response, remaining):
        body = assert_problem(response, 403)
        # The attempts left are in the problem's detail ("…; N attempts left."), as the ECDSA approvals say it.
        assert re.search(rf"\b{remaining} attempts left\.$", body["detail"]), body
        assert operation(sa, integration, target)["failureCount"] == max_failures - remaining

    # 1. An assertion made for another approval's options (its ceremony and challenge).
    other = approval_options(user, first)
    refused(approve(user, target, other, authenticator.get(other["publicKey"])), 4)
    # 2. Other data than the approval's, on the right ceremony.
    options = approval_options(user, target)
    assert options["data"] == "A1*A999.00EUR*IGB33BUKB20201555555555"
    refused(approve(user, target, options, authenticator.get(options["publicKey"]), data="A1*A9.00EUR*IGB33BUKB20201555555555"), 3)
    # 3. Another user's passkey, on the right ceremony and data.
    options = approval_options(user, target)
    stolen = thief.get(options["publicKey"], browser=False, credential_id=thief.credential().credential_id)
    refused(approve(user, target, options, stolen), 2)
    # 4. A bad signature (the user's passkey, another key's signature).
    options = approval_options(user, target)
    refused(approve(user, target, options, authenticator.get(options["publicKey"], signing_key=thief.credential().private_key)), 1)
    # 5. The fifth failure (the authenticator data changed after signing) fails the approval: the right answer is refused from then on.
    options = approval_options(user, target)
    tampered = authenticator.get(options["publicKey"], tamper=lambda data: data[:33] + (int.from_bytes(data[33:37], "big") + 9).to_bytes(4, "big"))
    refused(approve(user, target, options, tampered), 0)
    assert operation(sa, integration, target)["status"] == "FAILED"
    late = user.post(f"/api/user/approvals/{target}/passkey/options", {})
    if late.status_code == 200:
        late = approve(user, target, late.json(), authenticator.get(late.json()["publicKey"]))
    assert_refused(late, (403, 404, 409))
    assert operation(sa, integration, target)["status"] == "FAILED"

    # The first approval was untouched by all of this and still approves with its own ceremony.
    options = approval_options(user, first)
    assert approve(user, first, options, authenticator.get(options["publicKey"])).status_code == 200
    assert operation(sa, integration, first)["status"] == "APPROVED"


def test_an_approval_answer_replayed_is_refused(sa, client, integration):
    user, authenticator, _ = user_with_passkey(sa, client, "pk-approval-replay")
    first, second = create_operation(sa, integration, user), create_operation(sa, integration, user)
    options = approval_options(user, first)
    credential = authenticator.get(options["publicKey"])
    assert approve(user, first, options, credential).status_code == 200
    assert_refused(approve(user, first, options, credential), (403, 409))
    # The captured body sent to the second approval (same data: both are 63.99 EUR to one account):
    # its ceremony is used up, so it is refused before anything is checked (and counts nothing).
    assert_problem(approve(user, second, options, credential), 409)
    assert (operation(sa, integration, second)["status"], operation(sa, integration, second)["failureCount"]) == ("PENDING", 0)
    options = approval_options(user, second)
    assert approve(user, second, options, authenticator.get(options["publicKey"])).status_code == 200


def test_another_users_token_cannot_ask_for_an_approvals_options(sa, client, integration):
    user, _, _ = user_with_passkey(sa, client, "pk-owner")
    stranger, _, _ = user_with_passkey(sa, client, "pk-stranger")
    operation_id = create_operation(sa, integration, user)
    assert_refused(stranger.post(f"/api/user/approvals/{operation_id}/passkey/options", {}), (403, 404))


# --------------------------------------------------------------------------------------------------
# Attestation
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm, attestation", [(-7, "none"), (-7, "packed-self"), (-7, "packed-full"),
                                                    (-8, "none"), (-8, "packed-self"), (-8, "packed-full"),
                                                    (-257, "none"), (-257, "packed-self"), (-257, "packed-full")])
def test_every_algorithm_and_attestation_is_accepted_by_default(sa, client, algorithm, attestation):
    user, authenticator, device = user_with_passkey(sa, client, f"pk-att{-algorithm}-{attestation}", algorithm=algorithm,
                                                    attestation=attestation, backup_eligible=True, backed_up=True)
    assert device["kind"] == "passkey" and device["status"] == "ACTIVE", device
    # Recorded as registered: the algorithm, the format, the AAGUID (none's is zeros), the backup flags, uncertified (no roots).
    stored = stored_passkey(sa, device["id"])
    assert stored == {
        "credential_id": b64url(authenticator.credential().credential_id), "algorithm": str(algorithm), "sign_count": "0",
        "aaguid": "00" * 16 if attestation == "none" else authenticator.aaguid.hex(),
        "attestation_format": {"none": "none", "packed-self": "packed", "packed-full": "packed-x5c"}[attestation],
        "attestation_certified": "0",
        "backup_eligible": "1", "backup_state": "1"}, stored
    assert step_up(user, authenticator).status_code == 200
    assert stored_passkey(sa, device["id"])["sign_count"] == "1"
    registered = [record for record in audit_records(sa, "passkey.registered") if record[1] == "success"
                  and device["id"] in (record[0] or "") + json.dumps(record[2])]
    assert len(registered) == 1, audit_records(sa, "passkey.registered")


@pytest.fixture(scope="module")
def attested(server):
    """A node that requires packed full attestation chaining to one root; rp id and origin left to
    their defaults (the host and origin of its issuer, http://localhost:<port>)."""
    root = AttestationCA("StrongAuth Conformance Root")
    roots = Path(tempfile.mkdtemp(prefix="strongauth-attestation-roots-")) / "roots.pem"
    roots.write_bytes(root.pem)
    node, face = start_passkey_node(server, "attested", STRONGAUTH_ISSUER="http://localhost:{port}",
                                    STRONGAUTH_WEBAUTHN_ATTESTATION="required",
                                    STRONGAUTH_WEBAUTHN_ATTESTATION_ROOTS_FILE=str(roots))
    face.root = root
    try:
        yield face
    finally:
        code = node.stop()
    assert code == 0, f"the attestation node did not stop cleanly: {code}\n{node.log_tail()}"


def test_required_attestation_refuses_none_self_and_other_roots(attested):
    app = attested.create_client("pk-attested-app")
    user = User(attested, app, "pk-attested")
    refusals = {
        "none": SoftwareAuthenticator(attested.origin),
        "packed-self": SoftwareAuthenticator(attested.origin, attestation="packed-self"),
        "packed-full-other-root": SoftwareAuthenticator(attested.origin, attestation="packed-full",
                                                       attestation_ca=AttestationCA("Another Root")),
    }
    for name, authenticator in refusals.items():
        options, otp = begin_registration(user)
        assert options["publicKey"]["attestation"] == "direct", options
        assert options["publicKey"]["rp"]["id"] == "localhost", options
        response = finish_registration(user, options, otp, authenticator.create(options["publicKey"]))
        assert_refused(response, (400, 403))  # a bad chain 400, an untrusted attestation 403
        assert user.devices() == [], name

    # A leaf of the right root that breaks WebAuthn §8.2.1 (OU must be "Authenticator Attestation").
    authenticator = SoftwareAuthenticator(attested.origin, attestation="packed-full", attestation_ca=attested.root)
    key, leaf = attested.root.issue_leaf(authenticator.aaguid, organizational_unit="Marketing")
    from cryptography.hazmat.primitives import serialization
    options, otp = begin_registration(user)
    response = finish_registration(user, options, otp, authenticator.create(
        options["publicKey"], attestation_key=key, attestation_chain=[leaf.public_bytes(serialization.Encoding.DER)]))
    assert_refused(response, (400, 403))  # a bad chain 400, an untrusted attestation 403
    assert user.devices() == []


def test_required_attestation_accepts_a_chain_to_the_configured_root(attested):
    app = attested.create_client("pk-attested-ok-app")
    user = User(attested, app, "pk-attested-ok")
    genuine = SoftwareAuthenticator(attested.origin, attestation="packed-full", attestation_ca=attested.root)
    options, otp = begin_registration(user)
    created = finish_registration(user, options, otp, genuine.create(options["publicKey"]))
    assert created.status_code == 201, created.text
    assert [device["kind"] for device in user.devices()] == ["passkey"]
    assert stored_passkey(attested, created.json()["id"])["attestation_certified"] == "1"


# --------------------------------------------------------------------------------------------------
# Bad responses: refused with 400, nothing stored
# --------------------------------------------------------------------------------------------------

BAD_REGISTRATIONS = {
    "wrong origin": {"origin": "https://evil.example", "browser": False},
    "origin on another port": {"origin": "http://localhost:1", "browser": False},
    "wrong rp id hash": {"rp_id": "evil.example"},
    "user verification cleared": {"user_verified": False},
    "user presence cleared": {"user_verified": False, "user_present": False},
    "get instead of create": {"client_data_type": "webauthn.get"},
    "cross origin": {"client_data_extra": {"crossOrigin": True, "topOrigin": "https://evil.example"}},
}


@pytest.mark.parametrize("attack", BAD_REGISTRATIONS)
def test_bad_registrations_are_refused_and_nothing_is_stored(sa, client, attack):
    user = User(sa, client, "pk-badreg")
    authenticator = SoftwareAuthenticator(sa.origin)
    options, otp = begin_registration(user)
    knobs = dict(BAD_REGISTRATIONS[attack])
    extra = knobs.pop("client_data_extra", None)
    credential = authenticator.create(options["publicKey"], keep=False, **knobs)
    if extra:  # cross_origin is a CollectedClientData field of its own: rebuild the clientDataJSON
        client_data = json.loads(base64.urlsafe_b64decode(credential["response"]["clientDataJSON"] + "=="))
        client_data.update(extra)
        credential["response"]["clientDataJSON"] = b64url(json.dumps(client_data, separators=(",", ":")).encode())
    assert_refused(finish_registration(user, options, otp, credential))
    assert user.devices() == []


def test_a_registration_with_another_ceremonys_challenge_is_refused(sa, client):
    user = User(sa, client, "pk-otherchallenge")
    authenticator = SoftwareAuthenticator(sa.origin)
    other, _ = begin_registration(user)
    options, otp = begin_registration(user)
    credential = authenticator.create(options["publicKey"], challenge=base64.urlsafe_b64decode(other["publicKey"]["challenge"] + "=="),
                                      keep=False)
    assert_refused(finish_registration(user, options, otp, credential))
    assert user.devices() == []


BAD_ASSERTIONS = {
    "wrong origin": {"origin": "https://evil.example", "browser": False},
    "wrong rp id hash": {"rp_id": "evil.example", "browser": False},
    "user verification cleared": {"user_verified": False},
    "create instead of get": {"client_data_type": "webauthn.create"},
    "another challenge": {"challenge": os.urandom(32)},
    "flags changed after signing": {"tamper": lambda data: data[:32] + bytes([data[32] | 0x08]) + data[33:]},
}


@pytest.mark.parametrize("attack", BAD_ASSERTIONS)
def test_bad_assertions_are_refused_and_give_no_token(sa, client, attack):
    user, authenticator, device = user_with_passkey(sa, client, "pk-badauth")
    response = step_up(user, authenticator, **BAD_ASSERTIONS[attack])
    body = assert_refused(response, (400, 403))
    assert "token" not in body
    assert user.device(device["id"])["status"] == "ACTIVE"


def test_an_assertion_with_another_ceremonys_challenge_is_refused(sa, client):
    user, authenticator, _ = user_with_passkey(sa, client, "pk-authother")
    other = authentication_options(user)
    options = authentication_options(user)
    credential = authenticator.get(options["publicKey"], challenge=base64.urlsafe_b64decode(other["publicKey"]["challenge"] + "=="))
    assert_refused(user.post("/api/user/passkeys/authentication", {"ceremonyId": options["ceremonyId"], "credential": credential}),
                   (400, 403))


# --------------------------------------------------------------------------------------------------
# Garbage: 4xx, never 5xx
# --------------------------------------------------------------------------------------------------

def garbage_credentials(good):
    """Broken forms of a good response: not base64url, truncated CBOR, huge fields, wrong types, missing members."""
    def with_response(**fields):
        return dict(good, response=dict(good["response"], **fields))
    first_field = "attestationObject" if "attestationObject" in good["response"] else "authenticatorData"
    raw = base64.urlsafe_b64decode(good["response"][first_field] + "==")
    return {
        "not base64url": with_response(**{first_field: "***not base64url***"}),
        "padded base64 with + and /": with_response(clientDataJSON=base64.b64encode(b"\xfb\xff" * 40).decode()),
        "truncated CBOR": with_response(**{first_field: b64url(raw[: len(raw) // 2])}),
        "one byte": with_response(**{first_field: "AA"}),
        "empty": with_response(**{first_field: ""}),
        "CBOR with a huge length": with_response(**{first_field: b64url(b"\xbb" + b"\xff" * 8)}),
        "deeply nested CBOR": with_response(**{first_field: b64url(b"\x81" * 5000 + b"\x00")}),
        "huge field": with_response(**{first_field: b64url(os.urandom(600_000))}),
        "clientDataJSON not JSON": with_response(clientDataJSON=b64url(b"\x00{not json")),
        "clientDataJSON a list": with_response(clientDataJSON=b64url(b"[1,2,3]")),
        "number for a string": with_response(**{first_field: 12345}),
        "response missing": {key: value for key, value in good.items() if key != "response"},
        "id and rawId differ": dict(good, id=b64url(os.urandom(32))),
        "huge id": dict(good, id=b64url(os.urandom(70_000)), rawId=b64url(os.urandom(70_000))),
        "type not public-key": dict(good, type="password"),
        "credential a string": "credential",
        "credential null": None,
    }


def assert_4xx(response, what):
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.text[:400]}"


def test_garbage_registrations_are_4xx_never_5xx(sa, client):
    user = User(sa, client, "pk-garbage-reg")
    options, otp = begin_registration(user)
    good = SoftwareAuthenticator(sa.origin).create(options["publicKey"], keep=False)
    for name, credential in garbage_credentials(good).items():
        options, otp = begin_registration(user)
        assert_4xx(finish_registration(user, options, otp, credential), name)
    url = sa.url("/api/user/passkeys/registration")
    for name, body in {"not JSON": b"{", "a list": b"[]", "no ceremony": b'{"credential": {}}',
                       "ceremony a number": b'{"ceremonyId": 1, "credential": {}}',
                       "unknown ceremony": json.dumps({"ceremonyId": "nope", "otp": otp, "credential": good}).encode()}.items():
        assert_4xx(requests.post(url, data=body, headers={**user.headers, "Content-Type": "application/json"}, timeout=TIMEOUT), name)
    for name in ("", "x" * 101, 42):
        assert_4xx(user.post("/api/user/passkeys/registration/options", {"name": name}), f"name {name!r}")
    assert user.devices() == []


def test_garbage_assertions_are_4xx_never_5xx(sa, client, integration):
    user, authenticator, device = user_with_passkey(sa, client, "pk-garbage-auth")
    options = authentication_options(user)
    good = authenticator.get(options["publicKey"])
    for name, credential in garbage_credentials(good).items():
        fresh = authentication_options(user)
        assert_4xx(user.post("/api/user/passkeys/authentication", {"ceremonyId": fresh["ceremonyId"], "credential": credential}), name)
    operation_id = create_operation(sa, integration, user)
    for name, credential in list(garbage_credentials(good).items())[:4]:
        fresh = approval_options(user, operation_id)
        assert_4xx(approve(user, operation_id, fresh, credential), f"approval: {name}")
    for path in ("/api/user/passkeys/authentication", f"/api/user/approvals/{operation_id}/passkey",
                 "/api/user/approvals/no-such-approval/passkey", "/api/user/approvals/no-such-approval/passkey/options"):
        assert_4xx(requests.post(sa.url(path), data=b"{\"ceremonyId\":", headers={**user.headers, "Content-Type": "application/json"},
                                 timeout=TIMEOUT), path)
    assert user.device(device["id"])["status"] == "ACTIVE"


def test_the_passkey_endpoints_need_a_user_token(sa):
    for path in ("/api/user/passkeys/registration/options", "/api/user/passkeys/registration",
                 "/api/user/passkeys/authentication/options", "/api/user/passkeys/authentication"):
        response = requests.post(sa.url(path), json={}, timeout=TIMEOUT)
        assert response.status_code == 401, f"{path}: {response.status_code} {response.text[:300]}"


# --------------------------------------------------------------------------------------------------
# Single use under concurrency, on one node and across two
# --------------------------------------------------------------------------------------------------

def race(bases, path, headers, body, count=20):
    """`count` identical POSTs released together (each on a warmed-up connection, all past a barrier),
    spread over `bases`; their status codes."""
    import concurrent.futures
    import threading
    sessions = [requests.Session() for _ in range(count)]
    for index, session in enumerate(sessions):
        session.get(bases[index % len(bases)] + "/health", timeout=10)  # the connection is open before the race
    barrier = threading.Barrier(count)

    def send(index):
        barrier.wait(timeout=30)
        return sessions[index].post(bases[index % len(bases)] + path, headers=headers, json=body, timeout=30).status_code

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(send, range(count)))
    finally:
        for session in sessions:
            session.close()


@pytest.fixture(scope="module")
def peer(server, sa):
    """A second node of the passkey cluster, with the same WebAuthn settings (on PostgreSQL only: two
    nodes racing on one SQLite file serialise on its write lock, which proves nothing)."""
    if not conftest.DATABASE_URL:
        pytest.skip("two nodes racing need PostgreSQL (STRONGAUTH_TEST_DATABASE_URL)")
    node, _ = start_passkey_node(server, "passkeys-peer", STRONGAUTH_WEBAUTHN_RP_ID="localhost",
                                 STRONGAUTH_WEBAUTHN_ORIGINS=sa.origin)
    try:
        yield node.base
    finally:
        code = node.stop()
    assert code == 0, f"the peer did not stop cleanly: {code}\n{node.log_tail()}"


def racing_bases(request, sa):
    return [sa.node.base] + ([request.getfixturevalue("peer")] if request.param == "two nodes" else [])


@pytest.fixture(params=["one node", "two nodes"])
def bases(request, sa):
    return racing_bases(request, sa)


def test_one_assertion_raced_gives_one_token(sa, client, bases):
    user, authenticator, _ = user_with_passkey(sa, client, "pk-race")
    options = authentication_options(user)
    body = {"ceremonyId": options["ceremonyId"], "credential": authenticator.get(options["publicKey"])}
    codes = race(bases, "/api/user/passkeys/authentication", user.headers, body)
    assert codes.count(200) == 1 and codes.count(409) == len(codes) - 1, codes


def test_one_approval_answer_raced_approves_once_and_counts_nothing(sa, client, integration, bases):
    user, authenticator, _ = user_with_passkey(sa, client, "pk-race-approval")
    operation_id = create_operation(sa, integration, user)
    options = approval_options(user, operation_id)
    body = {"ceremonyId": options["ceremonyId"], "data": options["data"], "credential": authenticator.get(options["publicKey"])}
    codes = race(bases, f"/api/user/approvals/{operation_id}/passkey", user.headers, body)
    assert codes.count(200) == 1 and codes.count(409) == len(codes) - 1, codes
    state = operation(sa, integration, operation_id)
    assert (state["status"], state["failureCount"]) == ("APPROVED", 0), state


def test_one_registration_raced_stores_one_passkey(sa, client, bases):
    user = User(sa, client, "pk-race-register")
    options, otp = begin_registration(user)
    body = {"ceremonyId": options["ceremonyId"], "otp": otp,
            "credential": SoftwareAuthenticator(sa.origin).create(options["publicKey"])}
    codes = race(bases, "/api/user/passkeys/registration", user.headers, body)
    # The OTP is a per-user guessed factor: answers beyond its in-flight limit are 429, never a second passkey.
    assert codes.count(201) == 1 and codes.count(409) + codes.count(429) == len(codes) - 1, codes
    assert [device["kind"] for device in user.devices()] == ["passkey"]


# --------------------------------------------------------------------------------------------------
# Ceremonies and credentials belong to one user
# --------------------------------------------------------------------------------------------------

def test_another_users_ceremony_is_not_yours(sa, client):
    user, authenticator, _ = user_with_passkey(sa, client, "pk-ceremony-owner")
    other, other_authenticator, _ = user_with_passkey(sa, client, "pk-ceremony-other")
    options = authentication_options(user)
    # The other user answers the first user's ceremony with his own passkey, under his own token.
    credential = other_authenticator.get(options["publicKey"], browser=False, credential_id=other_authenticator.credential().credential_id)
    assert_problem(other.post("/api/user/passkeys/authentication", {"ceremonyId": options["ceremonyId"], "credential": credential}), 409)
    # The ceremony was not used up by that: its own user still answers it.
    answered = user.post("/api/user/passkeys/authentication",
                         {"ceremonyId": options["ceremonyId"], "credential": authenticator.get(options["publicKey"])})
    assert answered.status_code == 200, answered.text


def test_a_credential_id_registered_already_is_refused(sa, client):
    """A second registration of a credential id someone holds (here: another user's) cannot take it over."""
    _, victim, victim_device = user_with_passkey(sa, client, "pk-dup-victim")
    user = User(sa, client, "pk-dup-attacker")
    options, otp = begin_registration(user)
    credential = SoftwareAuthenticator(sa.origin).create(options["publicKey"], credential_id=victim.credential().credential_id)
    assert_problem(finish_registration(user, options, otp, credential), 409)
    assert user.devices() == []


def test_a_step_up_assertion_naming_another_user_handle_is_refused(sa, client):
    user, authenticator, _ = user_with_passkey(sa, client, "pk-userhandle")
    other = User(sa, client, "pk-userhandle-other")
    assert_refused(step_up(user, authenticator, user_handle=other.id.encode()), (400, 403))
