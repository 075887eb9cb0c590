"""PowerAuth (PowerAuth Cloud REST API) against the live server, with the phone played by conformance/powerauth_phone.py.

The phone is an independent Python implementation of the PowerAuth 3.x mobile client written from the
public specification and checked against the reference vectors (test_powerauth_vectors.py), not from
StrongAuth's Swift code: the server's crypto meets a second implementation here, never itself.

Faces used:
  * CLI: `strongauth apps create --id`, `strongauth integration-users create --name --app`;
  * private integration API `/powerauth-cloud/v2/...` with HTTP Basic (PowerAuth Cloud's curl calls);
  * public enrollment API `/enrollment-server/pa/v3/...` (PowerAuth Standard RESTful API, 3.x).
"""
import base64
import json
import os
import re
import time
import uuid

import pytest
import requests

import powerauth_phone as pa

VERSIONS = list(pa.SUPPORTED_VERSIONS)
KNOWLEDGE_FACTORS = ("possession", "knowledge")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------

def assert_powerauth_error(response, code=None):
    """A 4xx in PowerAuth's error shape: {"status": "ERROR", "responseObject": {"code", "message"}}."""
    assert 400 <= response.status_code < 500, f"expected a 4xx, got {response.status_code}: {response.text[:500]}"
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"{response.status_code} without a JSON body: {response.text[:500]!r}")
    assert body.get("status") == "ERROR", body
    error = body.get("responseObject")
    assert isinstance(error, dict) and isinstance(error.get("code"), str) and error["code"], body
    assert isinstance(error.get("message"), str), body
    if code is not None:
        assert error["code"] == code, body
    return error


class Cloud:
    """The integration API (`/powerauth-cloud/v2`) as PowerAuth Cloud's curl examples call it."""

    def __init__(self, server, user: str, password: str):
        self.server = server
        self.session = requests.Session()
        self.session.auth = (user, password)
        self.session.headers["Content-Type"] = "application/json"

    def url(self, path: str) -> str:
        return self.server.url("/powerauth-cloud/v2" + path)

    def create_registration(self, body: dict):
        return self.session.post(self.url("/registrations"), data=json.dumps(body))

    def registration(self, registration_id: str) -> dict:
        response = self.session.get(self.url(f"/registrations/{registration_id}"))
        assert response.status_code == 200, response.text
        return response.json()

    def registrations(self, user_id: str, removed: bool = False):
        params = {"userId": user_id}
        if removed:
            params["removed"] = "true"
        return self.session.get(self.url("/registrations"), params=params)

    def commit(self, registration_id: str):
        return self.session.post(self.url(f"/registrations/{registration_id}/commit"), data="{}")

    def change(self, registration_id: str, change: str, reason=None):
        body = {"change": change}
        if reason is not None:
            body["blockedReason"] = reason
        return self.session.put(self.url(f"/registrations/{registration_id}"), data=json.dumps(body))

    def delete(self, registration_id: str):
        return self.session.delete(self.url(f"/registrations/{registration_id}"))

    def verify_raw(self, body: dict):
        return self.session.post(self.url("/signature/verify"), data=json.dumps(body))

    def verify(self, method: str, uri_id: str, header: str, body: bytes) -> dict:
        """PowerAuth Cloud's request shape: {method, uriId, authHeader, requestBody (Base64 of the raw body)}."""
        response = self.verify_raw({"method": method, "uriId": uri_id, "authHeader": header,
                                    "requestBody": base64.b64encode(body).decode("ascii")})
        assert response.status_code == 200, response.text
        return response.json()

    def verify_token_raw(self, header: str):
        return self.session.post(self.url("/token/verify"), data=json.dumps({"tokenHeader": header}))

    def verify_token(self, header: str) -> dict:
        response = self.verify_token_raw(header)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def app(server):
    app_id = server.unique("pa-app")
    created = server.cli("apps", "create", "--id", app_id)
    assert created.get("applicationId") == app_id, created
    assert len(base64.b64decode(created["appKey"], validate=True)) == 16, created
    assert len(base64.b64decode(created["appSecret"], validate=True)) == 16, created
    master = base64.b64decode(created["masterPublicKey"], validate=True)
    assert len(master) == 65 and master[0] == 4, created
    pa.public_key_from_bytes(master)
    return created


@pytest.fixture(scope="module")
def cloud(server, app):
    name = server.unique("pa-integration")
    created = server.cli("integration-users", "create", "--name", name, "--app", app["applicationId"])
    assert created.get("name") == name and created.get("password"), created
    assert created.get("applications") == [app["applicationId"]], created
    return Cloud(server, name, created["password"])


def new_phone(server, app, version="3.1", **kwargs) -> pa.PowerAuthPhone:
    return pa.PowerAuthPhone(app["appKey"], app["appSecret"], app["masterPublicKey"], version=version,
                             transport=pa.Transport(server.base), **kwargs)


def create_registration(cloud, app, user_id=None, **extra) -> dict:
    body = {"userId": user_id or cloud.server.unique("end-user"), "appId": app["applicationId"], **extra}
    response = cloud.create_registration(body)
    assert response.status_code == 200, response.text
    created = response.json()
    created["userId"] = body["userId"]
    return created


def activated_phone(server, app, cloud, version="3.1", user_id=None, **phone_args):
    """A registration taken through create -> activate -> commit; returns (phone, registration)."""
    registration = create_registration(cloud, app, user_id)
    phone = new_phone(server, app, version, **phone_args)
    phone.activate(registration["activationCode"])
    committed = cloud.commit(registration["registrationId"])
    assert committed.status_code == 200, committed.text
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "ACTIVE"
    return phone, registration


def sign_and_verify(cloud, phone, body=b"{}", factors=KNOWLEDGE_FACTORS, method="POST", uri_id="/login", **sign_args):
    header = phone.sign(method, uri_id, body, factors, **sign_args)
    return cloud.verify(method, uri_id, header, body)


# --------------------------------------------------------------------------------------------------
# 1. The PowerAuth Cloud flow: code, signature, activation, fingerprint, commit
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_seed_registration_flow(server, app, cloud, version):
    user_id = server.unique("end-user")
    response = cloud.create_registration({"userId": user_id, "appId": app["applicationId"]})  # PowerAuth Cloud's body
    assert response.status_code == 200, response.text
    created = response.json()
    code, signature = created["activationCode"], created["activationCodeSignature"]
    assert pa.ACTIVATION_CODE_RE.match(code), code
    assert pa.activation_code_is_valid(code), f"{code}: CRC-16/ARC over the 10 random bytes does not match"
    assert created["activationQrCodeData"] == f"{code}#{signature}"
    assert pa.verify_activation_code_signature(base64.b64decode(app["masterPublicKey"]), code,
                                               base64.b64decode(signature, validate=True)), \
        "activationCodeSignature does not verify under the app's masterPublicKey"
    registration_id = created["registrationId"]
    assert UUID_RE.match(registration_id), registration_id

    shown = cloud.registration(registration_id)
    assert shown["registrationId"] == registration_id
    assert shown["registrationStatus"] == "CREATED"
    assert shown["applicationId"] == app["applicationId"]
    assert shown["userId"] == user_id
    assert shown["flags"] == []
    assert isinstance(shown["timestampCreated"], int) and isinstance(shown["timestampLastUsed"], int)
    assert shown["activationCode"] == code
    assert pa.verify_activation_code_signature(base64.b64decode(app["masterPublicKey"]), code,
                                               base64.b64decode(shown["activationCodeSignature"]))
    assert shown["activationQrCodeData"].startswith(code + "#")

    phone = new_phone(server, app, version)
    phone.activate(code, name="John's iPhone", platform="ios", device_info="iPhone10,6")
    # PowerAuth Cloud's registration id is the activation id (PowerAuth Cloud's authHeader carries it).
    assert phone.activation_id == registration_id

    pending = cloud.registration(registration_id)
    assert pending["registrationStatus"] == "PENDING_COMMIT"
    assert re.fullmatch(r"\d{8}", pending["activationFingerprint"]), pending
    assert pending["activationFingerprint"] == phone.activation_fingerprint, \
        "the server's fingerprint differs from the one the phone computed from both public keys"
    assert "activationCode" not in pending, "the code must not be re-obtainable after the key exchange"

    # A second phone cannot reuse the code once it was used for a key exchange.
    with pytest.raises(pa.PowerAuthHttpError) as second:
        new_phone(server, app, version).activate(code)
    assert_powerauth_error(second.value.response)

    # Not yet committed: the activation cannot sign.
    assert sign_and_verify(cloud, phone)["signatureValid"] is False

    committed = cloud.commit(registration_id)
    assert committed.status_code == 200, committed.text
    active = cloud.registration(registration_id)
    assert active["registrationStatus"] == "ACTIVE"
    assert "activationFingerprint" not in active or active["activationFingerprint"] == phone.activation_fingerprint

    # Committing twice is a state error, not a success.
    assert_powerauth_error(cloud.commit(registration_id))

    verified = sign_and_verify(cloud, phone)
    assert verified["signatureValid"] is True, verified


def test_uncompressed_device_and_ephemeral_keys_are_accepted(server, app, cloud):
    """The SDK sends compressed points; the Java reference server also decodes uncompressed ones."""
    phone, registration = activated_phone(server, app, cloud, "3.2", compressed_keys=False)
    assert sign_and_verify(cloud, phone)["signatureValid"] is True
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "ACTIVE"


def test_removed_registration_code_cannot_be_activated(server, app, cloud):
    registration = create_registration(cloud, app)
    deleted = cloud.delete(registration["registrationId"])
    assert deleted.status_code == 200, deleted.text
    with pytest.raises(pa.PowerAuthHttpError) as refused:
        new_phone(server, app).activate(registration["activationCode"])
    assert_powerauth_error(refused.value.response)


# --------------------------------------------------------------------------------------------------
# 2. Signatures through /powerauth-cloud/v2/signature/verify
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_signature_verify(server, app, cloud, version):
    phone, registration = activated_phone(server, app, cloud, version)
    registration_id = registration["registrationId"]

    header = phone.sign("POST", "/login", b"{}")
    assert pa.parse_powerauth_header(header)["pa_version"] == version
    # PowerAuth Cloud's exact request: requestBody "e30=" is Base64 of "{}".
    verified = cloud.verify("POST", "/login", header, b"{}")
    assert verified["signatureValid"] is True, verified
    assert verified["userId"] == registration["userId"]
    assert verified["registrationId"] == registration_id
    assert verified["registrationStatus"] == "ACTIVE"
    assert verified["signatureType"].upper() == "POSSESSION_KNOWLEDGE"
    assert verified["remainingAttempts"] == 5

    # The same header again: the counter was used, the server must refuse a replay. StrongAuth
    # does not count it as a failed attempt (its factors were right once; counting replays would let
    # anyone who sees one request block the user) — see docs/powerauth.md.
    for _ in range(6):
        replayed = cloud.verify("POST", "/login", header, b"{}")
        assert replayed["signatureValid"] is False, replayed
        assert replayed["remainingAttempts"] == 5, replayed
        assert replayed["registrationStatus"] == "ACTIVE", replayed

    # A few signatures lost on the way (the phone is ahead, within the look-ahead of 20).
    phone.skip_counter(5)
    assert sign_and_verify(cloud, phone)["signatureValid"] is True
    assert sign_and_verify(cloud, phone)["remainingAttempts"] == 5  # a valid 2FA signature resets the count

    possession = sign_and_verify(cloud, phone, factors=("possession",))
    assert possession["signatureValid"] is True and possession["signatureType"].upper() == "POSSESSION", possession
    biometry = sign_and_verify(cloud, phone, factors=("possession", "biometry"))
    assert biometry["signatureValid"] is True and biometry["signatureType"].upper() == "POSSESSION_BIOMETRY", biometry
    three = sign_and_verify(cloud, phone, factors=("possession", "knowledge", "biometry"))
    assert three["signatureValid"] is True, three

    # The body changed by one byte after signing.
    signed_body = b'{"amount":"100.00","currency":"EUR"}'
    header = phone.sign("POST", "/payment", signed_body)
    tampered = cloud.verify("POST", "/payment", header, b'{"amount":"900.00","currency":"EUR"}')
    assert tampered["signatureValid"] is False, tampered
    # Method and uriId are signed too.
    header = phone.sign("POST", "/payment", signed_body)
    assert cloud.verify("PUT", "/payment", header, signed_body)["signatureValid"] is False
    header = phone.sign("POST", "/payment", signed_body)
    assert cloud.verify("POST", "/payments", header, signed_body)["signatureValid"] is False
    # After those failures (the phone is a few steps ahead now) a correct signature still verifies.
    assert sign_and_verify(cloud, phone)["signatureValid"] is True


def test_signature_lookahead_window(server, app, cloud):
    phone, _ = activated_phone(server, app, cloud)
    phone.skip_counter(19)  # the 20th value from the server's position: last one inside [CTR, CTR+20)
    assert sign_and_verify(cloud, phone)["signatureValid"] is True
    assert sign_and_verify(cloud, phone)["signatureValid"] is True  # and the server moved past it
    phone.skip_counter(45)  # far outside the window
    assert sign_and_verify(cloud, phone, factors=("possession",))["signatureValid"] is False


def test_signature_of_another_activation_and_seed_header_formatting(server, app, cloud):
    phone, registration = activated_phone(server, app, cloud)
    other, _ = activated_phone(server, app, cloud)
    # Keys of one activation under the id of another.
    header = other.sign("POST", "/login", b"{}", possession_key=phone.keys["possession"],
                        knowledge_key=phone.keys["knowledge"])
    assert cloud.verify("POST", "/login", header, b"{}")["signatureValid"] is False

    # The PowerAuth Cloud documentation writes the header as `pa_activation_id="…",pa_application_key="…", … pa_signature_type="…" pa_signature="…"`
    # (one comma without a space, one separator missing); the reference parser reads key="value" pairs.
    parts = pa.parse_powerauth_header(phone.sign("POST", "/login", b"{}"))
    seed_style = (f'PowerAuth pa_activation_id="{parts["pa_activation_id"]}",pa_application_key="{parts["pa_application_key"]}", '
                  f'pa_nonce="{parts["pa_nonce"]}", pa_signature_type="{parts["pa_signature_type"]}" '
                  f'pa_signature="{parts["pa_signature"]}", pa_version="{parts["pa_version"]}"')
    verified = cloud.verify("POST", "/login", seed_style, b"{}")
    assert verified["signatureValid"] is True, verified
    assert verified["registrationId"] == registration["registrationId"]


# --------------------------------------------------------------------------------------------------
# 3. Attempt limits
# --------------------------------------------------------------------------------------------------

def test_wrong_pin_blocks_after_five_and_unblock_restores(server, app, cloud):
    phone, registration = activated_phone(server, app, cloud)
    registration_id = registration["registrationId"]
    assert sign_and_verify(cloud, phone)["signatureValid"] is True

    remaining = []
    for _ in range(5):
        wrong = sign_and_verify(cloud, phone, knowledge_key=os.urandom(16))  # a wrong PIN = a wrong knowledge key
        assert wrong["signatureValid"] is False, wrong
        remaining.append(wrong["remainingAttempts"])
    assert remaining == [4, 3, 2, 1, 0]

    blocked = cloud.registration(registration_id)
    assert blocked["registrationStatus"] == "BLOCKED"
    assert blocked["blockedReason"] == "MAX_FAILED_ATTEMPTS"

    refused = sign_and_verify(cloud, phone)  # the right PIN, but the registration is blocked
    assert refused["signatureValid"] is False, refused
    assert refused["registrationStatus"] == "BLOCKED"
    assert sign_and_verify(cloud, phone, factors=("possession",))["signatureValid"] is False

    unblocked = cloud.change(registration_id, "UNBLOCK")
    assert unblocked.status_code == 200, unblocked.text
    assert cloud.registration(registration_id)["registrationStatus"] == "ACTIVE"
    again = sign_and_verify(cloud, phone)
    assert again["signatureValid"] is True, again
    assert again["remainingAttempts"] == 5, again


def test_wrong_possession_only_signatures_do_not_count(server, app, cloud):
    phone, registration = activated_phone(server, app, cloud)
    for _ in range(7):
        wrong = sign_and_verify(cloud, phone, factors=("possession",), possession_key=os.urandom(16))
        assert wrong["signatureValid"] is False, wrong
        assert wrong["remainingAttempts"] == 5, wrong
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "ACTIVE"
    assert sign_and_verify(cloud, phone)["signatureValid"] is True
    # A wrong biometry factor counts like a wrong PIN (only possession-only signatures are exempt).
    wrong = sign_and_verify(cloud, phone, factors=("possession", "biometry"), biometry_key=os.urandom(16))
    assert wrong["signatureValid"] is False and wrong["remainingAttempts"] == 4, wrong


# --------------------------------------------------------------------------------------------------
# 4. Block, unblock, remove, list
# --------------------------------------------------------------------------------------------------

def test_block_unblock_remove_and_list(server, app, cloud):
    user_id = server.unique("end-user")
    kept_phone, kept = activated_phone(server, app, cloud, user_id=user_id)
    gone_phone, gone = activated_phone(server, app, cloud, user_id=user_id)
    pending = create_registration(cloud, app, user_id)  # still CREATED

    blocked = cloud.change(gone["registrationId"], "BLOCK", "DEVICE_LOST")
    assert blocked.status_code == 200, blocked.text
    shown = cloud.registration(gone["registrationId"])
    assert shown["registrationStatus"] == "BLOCKED" and shown["blockedReason"] == "DEVICE_LOST", shown
    refused = sign_and_verify(cloud, gone_phone)
    assert refused["signatureValid"] is False and refused["registrationStatus"] == "BLOCKED", refused

    unblocked = cloud.change(gone["registrationId"], "UNBLOCK")
    assert unblocked.status_code == 200, unblocked.text
    assert cloud.registration(gone["registrationId"])["registrationStatus"] == "ACTIVE"
    assert sign_and_verify(cloud, gone_phone)["signatureValid"] is True

    deleted = cloud.delete(gone["registrationId"])
    assert deleted.status_code == 200, deleted.text
    assert cloud.registration(gone["registrationId"])["registrationStatus"] == "REMOVED"
    after = sign_and_verify(cloud, gone_phone)
    assert after["signatureValid"] is False, after
    assert_powerauth_error(cloud.change(gone["registrationId"], "UNBLOCK"))  # removed is final
    assert_powerauth_error(cloud.commit(gone["registrationId"]))

    listed = cloud.registrations(user_id)
    assert listed.status_code == 200, listed.text
    entries = {r["registrationId"]: r for r in listed.json()["registrations"]}
    assert kept["registrationId"] in entries and gone["registrationId"] not in entries, entries
    entry = entries[kept["registrationId"]]
    assert entry["registrationStatus"] == "ACTIVE" and entry["applicationId"] == app["applicationId"]
    assert entry["name"] == "Conformance phone" and entry["platform"] == "ios" and entry["deviceInfo"] == "iPhone15,2"
    assert set(entries) <= {kept["registrationId"], pending["registrationId"]}

    everything = cloud.registrations(user_id, removed=True)
    assert everything.status_code == 200, everything.text
    all_entries = {r["registrationId"]: r for r in everything.json()["registrations"]}
    assert {kept["registrationId"], gone["registrationId"]} <= set(all_entries), all_entries
    assert all_entries[gone["registrationId"]]["registrationStatus"] == "REMOVED"

    other_user = cloud.registrations(server.unique("nobody"))
    assert other_user.status_code == 200 and other_user.json()["registrations"] == []
    assert sign_and_verify(cloud, kept_phone)["signatureValid"] is True


def test_enrollment_signature_validate_and_activation_remove(server, app, cloud):
    phone, registration = activated_phone(server, app, cloud, "3.2")
    ok = phone.validate_signature(b'{"any":"data"}')
    assert ok.status_code == 200, ok.text
    assert ok.json().get("status") == "OK"
    bad = phone.validate_signature(b'{"any":"data"}', knowledge_key=os.urandom(16))
    assert bad.status_code == 401, bad.text
    assert_powerauth_error(bad)

    removed = phone.remove()
    assert removed.get("status") == "OK", removed
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "REMOVED"
    assert sign_and_verify(cloud, phone)["signatureValid"] is False


# --------------------------------------------------------------------------------------------------
# 5. Mobile-only flow: activation OTP checked on the key exchange, committed at once
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["3.1", "3.3"])
def test_mobile_only_flow_with_activation_otp(server, app, cloud, version):
    otp = f"{int.from_bytes(os.urandom(4), 'big') % 10 ** 8:08d}"
    registration = create_registration(cloud, app, otp=otp, otpValidation="ON_KEY_EXCHANGE")
    registration_id = registration["registrationId"]

    with pytest.raises(pa.PowerAuthHttpError) as wrong:
        new_phone(server, app, version).activate(registration["activationCode"], otp="00000000" if otp != "00000000" else "11111111")
    assert_powerauth_error(wrong.value.response)
    assert cloud.registration(registration_id)["registrationStatus"] == "CREATED"

    with pytest.raises(pa.PowerAuthHttpError) as missing:
        new_phone(server, app, version).activate(registration["activationCode"])
    assert_powerauth_error(missing.value.response)

    phone = new_phone(server, app, version)
    phone.activate(registration["activationCode"], otp=otp)
    assert phone.activation_id == registration_id
    assert cloud.registration(registration_id)["registrationStatus"] == "ACTIVE", "ON_KEY_EXCHANGE must auto-commit"
    assert sign_and_verify(cloud, phone)["signatureValid"] is True


# --------------------------------------------------------------------------------------------------
# 6. Activation status from the phone
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_activation_status_blob(server, app, cloud, version):
    registration = create_registration(cloud, app)
    registration_id = registration["registrationId"]
    phone = new_phone(server, app, version)
    phone.activate(registration["activationCode"])

    status = phone.status()
    assert status["activationStatusName"] == "PENDING_COMMIT", status
    assert status["currentVersion"] == 3 and status["upgradeVersion"] == 3, status
    assert status["ctrDataHashMatchesPhone"], "the blob's ctrDataHash is not the hash of the ctrData the phone got"

    assert cloud.commit(registration_id).status_code == 200
    status = phone.status()
    assert status["activationStatusName"] == "ACTIVE", status
    assert status["failedAttempts"] == 0 and status["maxFailedAttempts"] == 5 and status["ctrLookAhead"] == 20, status
    assert status["ctrByte"] == 0 and status["ctrDataHashMatchesPhone"], status

    for _ in range(3):
        assert sign_and_verify(cloud, phone)["signatureValid"] is True
    status = phone.status()
    assert status["ctrDataHashMatchesPhone"], f"server counter out of step with the phone: {status}"
    assert status["ctrByte"] == phone.counter & 0xFF, status

    assert sign_and_verify(cloud, phone, knowledge_key=os.urandom(16))["signatureValid"] is False
    status = phone.status()
    assert status["failedAttempts"] == 1, status
    assert status["serverBehindBy"] is not None, f"the server's counter is not one the phone used: {status}"

    assert sign_and_verify(cloud, phone)["signatureValid"] is True
    status = phone.status()
    assert status["failedAttempts"] == 0 and status["ctrDataHashMatchesPhone"], status

    assert cloud.change(registration_id, "BLOCK").status_code == 200
    assert phone.status()["activationStatusName"] == "BLOCKED"
    assert cloud.delete(registration_id).status_code == 200
    assert phone.status()["activationStatusName"] == "REMOVED"


def test_status_challenge_binds_the_blob(server, app, cloud):
    """The blob is encrypted for the challenge the phone sent: another challenge gives another IV."""
    phone, _ = activated_phone(server, app, cloud)
    challenge = os.urandom(16)
    body = json.dumps({"requestObject": {"activationId": phone.activation_id, "challenge": pa.b64e(challenge)}})
    response = phone.transport.post("/pa/v3/activation/status", body.encode())
    assert response.status_code == 200, response.text
    obj = response.json()["responseObject"]
    blob = pa.b64d(obj["encryptedStatusBlob"])
    assert pa.decrypt_status_blob(phone.keys["transport"], challenge, pa.b64d(obj["nonce"]), blob)["activationStatus"] == 3
    with pytest.raises(pa.PowerAuthError):
        pa.decrypt_status_blob(phone.keys["transport"], os.urandom(16), pa.b64d(obj["nonce"]), blob)
    second = phone.transport.post("/pa/v3/activation/status", body.encode()).json()["responseObject"]
    assert second["nonce"] != obj["nonce"], "the server must pick a fresh nonce for every status blob"


# --------------------------------------------------------------------------------------------------
# 7. Tokens
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_tokens(server, app, cloud, version):
    phone, registration = activated_phone(server, app, cloud, version)
    token_id, secret = phone.create_token()
    assert UUID_RE.match(token_id), token_id

    verified = cloud.verify_token(phone.token_header(token_id, secret))
    assert verified["tokenValid"] is True, verified
    assert verified["userId"] == registration["userId"]
    assert verified["registrationId"] == registration["registrationId"]
    assert verified["registrationStatus"] == "ACTIVE"
    assert verified["signatureType"].upper() == "POSSESSION_KNOWLEDGE"
    assert cloud.verify_token(phone.token_header(token_id, secret))["tokenValid"] is True  # reusable

    wrong_secret = cloud.verify_token(phone.token_header(token_id, os.urandom(16)))
    assert wrong_secret["tokenValid"] is False, wrong_secret
    good = phone.token_header(token_id, secret)
    parts = pa.parse_powerauth_header(good)
    digest = bytearray(pa.b64d(parts["token_digest"]))
    digest[0] ^= 1
    flipped = good.replace(parts["token_digest"], pa.b64e(bytes(digest)))
    assert flipped != good
    assert cloud.verify_token(flipped)["tokenValid"] is False
    assert cloud.verify_token(good)["tokenValid"] is True
    if version != "3.1":
        # 3.2+ bind the version into the digest; the 3.1 formula under a 3.2+ header must fail.
        nonce, ts = os.urandom(16), int(parts["timestamp"])
        old = pa.token_digest(secret, nonce, ts, "3.1")
        header = (f'PowerAuth token_id="{token_id}", token_digest="{pa.b64e(old)}", nonce="{pa.b64e(nonce)}", '
                  f'timestamp="{ts}", version="{version}"')
        assert cloud.verify_token(header)["tokenValid"] is False

    possession_token, possession_secret = phone.create_token(factors=("possession",))
    assert possession_token != token_id
    verified = cloud.verify_token(phone.token_header(possession_token, possession_secret))
    assert verified["tokenValid"] is True and verified["signatureType"].upper() == "POSSESSION", verified

    removed = phone.remove_token(token_id)
    assert removed.get("status") == "OK", removed
    assert cloud.verify_token(phone.token_header(token_id, secret))["tokenValid"] is False
    assert cloud.verify_token(phone.token_header(possession_token, possession_secret))["tokenValid"] is True

    # A removed registration takes its tokens with it.
    assert cloud.delete(registration["registrationId"]).status_code == 200
    assert cloud.verify_token(phone.token_header(possession_token, possession_secret))["tokenValid"] is False


def test_token_create_needs_a_valid_signature(server, app, cloud):
    phone, _ = activated_phone(server, app, cloud)
    with pytest.raises(pa.PowerAuthHttpError) as refused:
        phone.create_token(knowledge_key=os.urandom(16))
    assert refused.value.status_code == 401, refused.value
    assert_powerauth_error(refused.value.response)


# --------------------------------------------------------------------------------------------------
# 8. Bad input: 4xx in PowerAuth's error shape, never 5xx
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def signer(server, app, cloud):
    phone, _ = activated_phone(server, app, cloud)
    return phone


def _header_variants(phone):
    good = pa.parse_powerauth_header(phone.sign("POST", "/login", b"{}", advance=False))

    def build(**changes):
        fields = dict(good)
        for key, value in changes.items():
            if value is None:
                fields.pop(key, None)
            else:
                fields[key] = value
        return "PowerAuth " + ", ".join(f'{k}="{v}"' for k, v in fields.items())

    return {
        "empty": "",
        "not PowerAuth": "Bearer abc",
        "only the scheme": "PowerAuth",
        "no quotes": "PowerAuth pa_activation_id=abc, pa_signature=def",
        "no signature": build(pa_signature=None),
        "no activation id": build(pa_activation_id=None),
        "no application key": build(pa_application_key=None),
        "no nonce": build(pa_nonce=None),
        "no signature type": build(pa_signature_type=None),
        "no version": build(pa_version=None),
        "version 2.0": build(pa_version="2.0"),
        "version 9.9": build(pa_version="9.9"),
        "version text": build(pa_version="three"),
        "nonce not Base64": build(pa_nonce="!!!not*base64!!!"),
        "nonce 8 bytes": build(pa_nonce=pa.b64e(os.urandom(8))),
        "nonce 64 bytes": build(pa_nonce=pa.b64e(os.urandom(64))),
        "unknown signature type": build(pa_signature_type="possession_telepathy"),
        "signature not Base64": build(pa_signature="%%%%"),
        "activation id not a UUID": build(pa_activation_id="'; DROP TABLE devices; --"),
        "huge signature": build(pa_signature="A" * 100_000),
    }


HEADER_CASES = ["empty", "not PowerAuth", "only the scheme", "no quotes", "no signature", "no activation id",
                "no application key", "no nonce", "no signature type", "no version", "version 2.0", "version 9.9",
                "version text", "nonce not Base64", "nonce 8 bytes", "nonce 64 bytes", "unknown signature type",
                "signature not Base64", "activation id not a UUID", "huge signature"]


@pytest.mark.parametrize("case", HEADER_CASES)
def test_malformed_auth_headers(cloud, signer, case):
    header = _header_variants(signer)[case]
    response = cloud.verify_raw({"method": "POST", "uriId": "/login", "authHeader": header, "requestBody": "e30="})
    assert_powerauth_error(response)


def test_malformed_verify_requests(cloud, signer):
    header = signer.sign("POST", "/login", b"{}", advance=False)
    for body in ({"method": "POST", "uriId": "/login", "authHeader": header, "requestBody": "!!notbase64!!"},
                 {"method": "POST", "uriId": "/login", "requestBody": "e30="},
                 {"uriId": "/login", "authHeader": header, "requestBody": "e30="},
                 {"method": "POST", "uriId": "/login", "authHeader": 42, "requestBody": "e30="}):
        assert_powerauth_error(cloud.verify_raw(body))
    not_json = cloud.session.post(cloud.url("/signature/verify"), data="{not json")
    assert_powerauth_error(not_json)
    assert_powerauth_error(cloud.verify_token_raw("PowerAuth token_id=\"x\""))
    assert_powerauth_error(cloud.verify_token_raw(""))


def test_unknown_activation_id(cloud, signer):
    parts = pa.parse_powerauth_header(signer.sign("POST", "/login", b"{}", advance=False))
    parts["pa_activation_id"] = str(uuid.uuid4())
    header = "PowerAuth " + ", ".join(f'{k}="{v}"' for k, v in parts.items())
    response = cloud.verify_raw({"method": "POST", "uriId": "/login", "authHeader": header, "requestBody": "e30="})
    assert_powerauth_error(response)
    assert_powerauth_error(cloud.session.get(cloud.url(f"/registrations/{uuid.uuid4()}")), "ERROR_REGISTRATION_NOT_FOUND")
    assert_powerauth_error(cloud.commit(str(uuid.uuid4())))
    assert_powerauth_error(cloud.change(str(uuid.uuid4()), "BLOCK"))
    assert_powerauth_error(cloud.delete(str(uuid.uuid4())))


@pytest.mark.parametrize("version", VERSIONS)
def test_tampered_activation_request(server, app, cloud, version):
    registration = create_registration(cloud, app)
    phone = new_phone(server, app, version)

    def send(pending):
        return phone.transport.post("/pa/v3/activation/create", pending.body_bytes(), pending.headers)

    # Outer layer: one bit of the MAC.
    pending = phone.prepare_activation(registration["activationCode"])
    mac = bytearray(pa.b64d(pending.body["mac"]))
    mac[-1] ^= 1
    pending.body["mac"] = pa.b64e(bytes(mac))
    assert_powerauth_error(send(pending))
    # Outer layer: one bit of the ciphertext.
    pending = phone.prepare_activation(registration["activationCode"])
    data = bytearray(pa.b64d(pending.body["encryptedData"]))
    data[0] ^= 1
    pending.body["encryptedData"] = pa.b64e(bytes(data))
    assert_powerauth_error(send(pending))
    # Outer layer: another ephemeral key.
    pending = phone.prepare_activation(registration["activationCode"])
    pending.body["ephemeralPublicKey"] = pa.b64e(pa.public_key_bytes(pa.generate_key_pair(), compressed=True))
    assert_powerauth_error(send(pending))
    # Outer layer: not a point at all.
    pending = phone.prepare_activation(registration["activationCode"])
    pending.body["ephemeralPublicKey"] = pa.b64e(b"\x02" + b"\xff" * 32)
    assert_powerauth_error(send(pending))
    if version != "3.1":
        # 3.2+: the timestamp is MAC-protected.
        pending = phone.prepare_activation(registration["activationCode"])
        pending.body["timestamp"] += 1
        assert_powerauth_error(send(pending))
    # Inner layer: the outer layer is fine, the layer-2 MAC is not.
    layer1 = phone.application_encryptor(pa.SH1_ACTIVATION_LAYER_1)
    layer2 = phone.application_encryptor(pa.SH1_ACTIVATION_LAYER_2)
    inner = layer2.encrypt_json({"devicePublicKey": pa.b64e(pa.public_key_bytes(pa.generate_key_pair(), True)),
                                 "activationName": "x", "platform": "ios", "deviceInfo": "x"})
    inner_mac = bytearray(pa.b64d(inner["mac"]))
    inner_mac[0] ^= 1
    inner["mac"] = pa.b64e(bytes(inner_mac))
    body = layer1.encrypt_json({"type": "CODE", "identityAttributes": {"code": registration["activationCode"]},
                                "customAttributes": {}, "activationData": inner})
    response = phone.transport.post("/pa/v3/activation/create", json.dumps(body).encode(),
                                    {"X-PowerAuth-Encryption": pa.encryption_header(version, app["appKey"])})
    assert_powerauth_error(response)
    # Garbage and missing headers.
    assert_powerauth_error(phone.transport.post("/pa/v3/activation/create", b"{not json",
                                                {"X-PowerAuth-Encryption": pa.encryption_header(version, app["appKey"])}))
    pending = phone.prepare_activation(registration["activationCode"])
    assert_powerauth_error(phone.transport.post("/pa/v3/activation/create", pending.body_bytes()))

    # None of that used up the code: the genuine request still works.
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "CREATED"
    phone.activate(registration["activationCode"])
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "PENDING_COMMIT"


def test_wrong_application_key_and_secret(server, app, cloud):
    registration = create_registration(cloud, app)
    stranger = pa.PowerAuthPhone(pa.b64e(os.urandom(16)), app["appSecret"], app["masterPublicKey"],
                                 transport=pa.Transport(server.base))
    with pytest.raises(pa.PowerAuthHttpError) as unknown_key:
        stranger.activate(registration["activationCode"])
    assert_powerauth_error(unknown_key.value.response)
    wrong_secret = pa.PowerAuthPhone(app["appKey"], pa.b64e(os.urandom(16)), app["masterPublicKey"],
                                     transport=pa.Transport(server.base))
    with pytest.raises(pa.PowerAuthHttpError) as bad_secret:
        wrong_secret.activate(registration["activationCode"])
    assert_powerauth_error(bad_secret.value.response)
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "CREATED"

    # A signature computed with another application secret does not verify.
    phone, _ = activated_phone(server, app, cloud)
    phone.app_secret = pa.b64e(os.urandom(16))
    assert sign_and_verify(cloud, phone)["signatureValid"] is False


def test_integration_api_authentication(server, app, cloud):
    url = cloud.url("/registrations")
    body = json.dumps({"userId": server.unique("end-user"), "appId": app["applicationId"]})
    headers = {"Content-Type": "application/json"}
    assert requests.post(url, data=body, headers=headers).status_code == 401
    assert requests.post(url, data=body, headers=headers, auth=(cloud.session.auth[0], "wrong")).status_code == 401
    assert requests.post(url, data=body, headers=headers, auth=("nobody-" + server.run_id, "x")).status_code == 401
    assert requests.get(cloud.url("/registrations?userId=x")).status_code == 401
    assert requests.post(cloud.url("/signature/verify"), data="{}", headers=headers).status_code == 401
    assert requests.post(cloud.url("/token/verify"), data="{}", headers=headers).status_code == 401

    # An integration user is scoped to its applications.
    other_app = server.cli("apps", "create", "--id", server.unique("pa-other-app"))
    refused = cloud.create_registration({"userId": server.unique("end-user"), "appId": other_app["applicationId"]})
    assert 400 <= refused.status_code < 500, refused.text
    assert_powerauth_error(cloud.create_registration({"userId": server.unique("end-user"), "appId": "no-such-app-" + server.run_id}))
    assert_powerauth_error(cloud.create_registration({"appId": app["applicationId"]}))
    assert_powerauth_error(cloud.create_registration({"userId": server.unique("u"), "appId": app["applicationId"],
                                                      "otpValidation": "SOMETIMES", "otp": "1234"}))


# --------------------------------------------------------------------------------------------------
# The CLI phone simulator (`strongauth device activate|sign|status|token`), checked by this suite's
# integration client: what the README's walkthrough does by hand.
# --------------------------------------------------------------------------------------------------

def phone_cli(server, *args) -> dict:
    """Runs a `strongauth device …` command: an HTTP client of the server, so no --database."""
    import cluster
    return cluster.cli(server.workdir, server.env, "", *args)


def test_cli_simulator_activates_signs_and_makes_tokens(server, app, cloud):
    registration = create_registration(cloud, app)
    registration_id = registration["registrationId"]
    phone = ["--pin", "2468"]
    activated = phone_cli(server, "device", "activate", "--server", server.base, "--app-key", app["appKey"],
                           "--app-secret", app["appSecret"], "--master-public-key", app["masterPublicKey"],
                           "--code", registration["activationQrCodeData"], "--protocol", "3.2", *phone)
    assert activated["activationId"] == registration_id
    assert cloud.registration(registration_id)["activationFingerprint"] == activated["fingerprint"]
    assert cloud.commit(registration_id).status_code == 200

    signed = phone_cli(server, "device", "sign", "--activation-id", registration_id, "--method", "POST",
                        "--uri-id", "/login", "--body", '{"login": true}', *phone)
    assert base64.b64decode(signed["requestBody"]) == b'{"login": true}'
    verdict = cloud.verify_raw({key: signed[key] for key in ("method", "uriId", "authHeader", "requestBody")})
    assert verdict.status_code == 200 and verdict.json()["signatureValid"] is True, verdict.text

    status = phone_cli(server, "device", "status", "--activation-id", registration_id)
    assert status["status"] == "ACTIVE", status

    token = phone_cli(server, "device", "token", "--activation-id", registration_id, *phone)
    assert cloud.verify_token(token["tokenHeader"])["tokenValid"] is True


# --------------------------------------------------------------------------------------------------
# Protocol downgrade, possession throttle, ECIES freshness
# --------------------------------------------------------------------------------------------------

def downgraded_header(phone, factors, method="POST", uri_id="/login", body=b"{}") -> str:
    """A correct signature in the 3.0 format (8 decimal digits per factor), with pa_version="3.0"."""
    nonce = os.urandom(16)
    data = pa.signature_base_string(method, uri_id, nonce, body, phone.app_secret)
    signature = pa.decimal_signature(phone.factor_keys(factors), phone.ctr_data, data)
    return pa.authorization_header(phone.activation_id, phone.app_key, nonce, phone.signature_type(factors), signature, "3.0")


@pytest.mark.parametrize("version", ["3.1", "3.3"])
def test_signature_below_the_activation_version_is_refused(server, app, cloud, version):
    phone, registration = activated_phone(server, app, cloud, version)
    for factors in [("possession",), KNOWLEDGE_FACTORS]:
        refused = cloud.verify("POST", "/login", downgraded_header(phone, factors), b"{}")
        assert refused["signatureValid"] is False and refused["remainingAttempts"] == 5, refused
    # The phone's own (unmoved) counter value still verifies in its own version.
    assert sign_and_verify(cloud, phone)["signatureValid"] is True
    # On the phone's endpoint: 401.
    header = downgraded_header(phone, ("possession",), uri_id="/pa/signature/validate")
    response = phone.transport.post("/pa/v3/signature/validate", b"{}", {"X-PowerAuth-Authorization": header})
    assert_powerauth_error(response, "ERR_AUTHENTICATION")
    assert response.status_code == 401
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "ACTIVE"


def test_possession_guessing_is_throttled_without_blocking(server, app, cloud):
    phone, registration = activated_phone(server, app, cloud)
    for _ in range(12):
        wrong = sign_and_verify(cloud, phone, factors=("possession",), possession_key=os.urandom(16), advance=False)
        assert wrong["signatureValid"] is False and wrong["remainingAttempts"] == 5, wrong
    # Throttled: the phone's own possession signature is refused unchecked …
    throttled = sign_and_verify(cloud, phone, factors=("possession",), advance=False)
    assert throttled["signatureValid"] is False and throttled["registrationStatus"] == "ACTIVE", throttled
    # … while the user is not locked out: the PIN works and nothing was counted.
    valid = sign_and_verify(cloud, phone)
    assert valid["signatureValid"] is True and valid["remainingAttempts"] == 5, valid
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "ACTIVE"


def test_ecies_request_replayed_is_refused(server, app, cloud):
    registration = create_registration(cloud, app)
    phone = new_phone(server, app, "3.2")
    pending = phone.prepare_activation(registration["activationCode"])
    first = phone.transport.post("/pa/v3/activation/create", pending.body_bytes(), pending.headers)
    assert first.status_code == 200, first.text
    replay = phone.transport.post("/pa/v3/activation/create", pending.body_bytes(), pending.headers)
    error = assert_powerauth_error(replay, "ERR_ENCRYPTION")
    assert "already received" in error["message"], error


@pytest.mark.parametrize("offset_ms", [-120_000, 120_000])
def test_ecies_request_outside_the_time_window_is_refused(server, app, cloud, offset_ms):
    registration = create_registration(cloud, app)
    phone = new_phone(server, app, "3.2")
    layer1 = phone.application_encryptor(pa.SH1_ACTIVATION_LAYER_1)
    layer2 = phone.application_encryptor(pa.SH1_ACTIVATION_LAYER_2)
    inner = layer2.encrypt_json({"devicePublicKey": pa.b64e(pa.public_key_bytes(pa.generate_key_pair(), True)),
                                 "activationName": "x", "platform": "ios", "deviceInfo": "x"})
    plain = json.dumps({"type": "CODE", "identityAttributes": {"code": registration["activationCode"]},
                        "customAttributes": {}, "activationData": inner}).encode()
    body = layer1.encrypt_request(plain, timestamp=int(time.time() * 1000) + offset_ms)
    response = phone.transport.post("/pa/v3/activation/create", json.dumps(body).encode(),
                                    {"X-PowerAuth-Encryption": pa.encryption_header("3.2", app["appKey"])})
    error = assert_powerauth_error(response, "ERR_ENCRYPTION")
    assert "window" in error["message"], error
    # Nothing happened: the code still activates a phone with a fresh request.
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "CREATED"
    phone.activate(registration["activationCode"])
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "PENDING_COMMIT"
