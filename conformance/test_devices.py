"""Device binding (Kontist, docs/devices.md) with a phone played by Python `cryptography`: the key is
generated here, the DER signatures are made here, the server only ever sees the public key."""
import json
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


class Phone:
    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key_hex(self):  # Kontist's "hex-encoded public key without header": 04‖X‖Y
        return self.key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint).hex()

    @property
    def spki_hex(self):
        return self.key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex()

    def sign(self, text: str) -> str:  # DER, as iOS and Android produce
        return self.key.sign(text.encode(), ec.ECDSA(hashes.SHA256())).hex()

    def sign_raw(self, text: str) -> str:  # r‖s
        r, s = decode_dss_signature(self.key.sign(text.encode(), ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big").hex() + s.to_bytes(32, "big").hex()


@pytest.fixture(scope="module")
def app(server):
    return server.create_client("phone-app")


def user_session(server, app, name):
    phone_number = "+49151" + str(abs(hash((name, server.run_id))) % 10**8).zfill(8)
    username, _ = server.cli("users", "create", "--username", f"{name}-{server.run_id}", "--password", "user-password",
                             "--phone", phone_number)["username"], None
    token = requests.post(server.url("/oauth/token"), auth=app,
                          data={"grant_type": "password", "username": username, "password": "user-password"}).json()
    return {"Authorization": "Bearer " + token["access_token"]}, phone_number


def create_device(server, headers, phone, key_hex=None):
    response = requests.post(server.url("/api/user/devices"), headers=headers,
                             json={"name": "iPhone XS", "key": key_hex or phone.public_key_hex})
    assert response.status_code == 201, response.text
    return response.json()


def sms_count(server, number):
    path = server.workdir / "data" / "notifications.jsonl"
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if json.loads(line)["to"] == number)


def new_sms(server, number, before, timeout=5.0):
    """The OTP of the SMS after the `before`-th to `number` (a second binding for the same user
    must not read the first one's OTP)."""
    deadline = time.time() + timeout
    while sms_count(server, number) <= before and time.time() < deadline:
        time.sleep(0.05)
    return server.sms_to(number)


def bind(server, headers, phone, number):
    before = sms_count(server, number)
    created = create_device(server, headers, phone)
    otp = new_sms(server, number, before)
    verified = requests.post(server.url(f"/api/user/devices/{created['deviceId']}/verify"), headers=headers,
                             json={"challengeId": created["challengeId"], "signature": phone.sign(otp)})
    assert verified.status_code == 204, verified.text
    return created["deviceId"]


STEP_UP = ('Bearer error="insufficient_user_authentication", error_description="This action needs two-factor '
           'authentication within the last 300 seconds.", acr_values="urn:strongauth:acr:2fa", max_age=300')


def confirm(server, headers, phone, device_id):
    """Signs a device challenge: the confirmed (two-factor) token response."""
    challenge = requests.post(server.url(f"/api/user/devices/{device_id}/challenges"), headers=headers).json()
    tokens = requests.post(server.url(f"/api/user/devices/{device_id}/challenges/{challenge['id']}/verify"), headers=headers,
                           json={"signature": phone.sign(challenge["stringToSign"])})
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


def confirmed_headers(server, headers, phone, device_id):
    """Bearer headers with a fresh two-factor token, as removing or approving a device needs."""
    return {"Authorization": "Bearer " + confirm(server, headers, phone, device_id)["token"]}


def assert_step_up(response):
    """RFC 9470: 401, the step-up challenge, the face's own problem body."""
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == STEP_UP
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401


def test_bind_challenge_confirmed_tokens_and_refresh(server, app):
    headers, number = user_session(server, app, "bind")
    phone = Phone()
    device_id = bind(server, headers, phone, number)

    challenge = requests.post(server.url(f"/api/user/devices/{device_id}/challenges"), headers=headers).json()
    tokens = requests.post(server.url(f"/api/user/devices/{device_id}/challenges/{challenge['id']}/verify"), headers=headers,
                           json={"signature": phone.sign(challenge["stringToSign"])})
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    jwks = jwt.PyJWKClient(server.url("/.well-known/jwks.json"))
    claims = jwt.decode(body["token"], jwks.get_signing_key_from_jwt(body["token"]).key, algorithms=["ES256"],
                        audience=app[0])  # confirmed tokens are for the same client (RFC 9068 aud)
    assert claims["cnf"] == {"kid": device_id}
    assert claims["amr"] == ["pwd", "hwk"]
    assert claims["acr"] == "urn:strongauth:acr:2fa"

    # "When renewing your access token with such a refresh token, it will already be confirmed."
    refreshed = requests.post(server.url("/oauth/token"), auth=app,
                              data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}).json()
    renewed = jwt.decode(refreshed["access_token"], options={"verify_signature": False})
    assert renewed["cnf"] == {"kid": device_id}
    introspection = requests.post(server.url("/oauth/introspect"), auth=app, data={"token": refreshed["access_token"]}).json()
    assert introspection["active"] and introspection["cnf"] == {"kid": device_id}


def test_spki_keys_and_raw_signatures_are_accepted(server, app):
    headers, number = user_session(server, app, "spki")
    phone = Phone()
    created = create_device(server, headers, phone, key_hex=phone.spki_hex)
    otp = server.sms_to(number)
    verified = requests.post(server.url(f"/api/user/devices/{created['deviceId']}/verify"), headers=headers,
                             json={"challengeId": created["challengeId"], "signature": phone.sign_raw(otp)})
    assert verified.status_code == 204, verified.text


def test_wrong_otp_signature_and_the_sixth_attempt(server, app):
    headers, number = user_session(server, app, "wrongotp")
    phone = Phone()
    created = create_device(server, headers, phone)
    otp = server.sms_to(number)
    url = server.url(f"/api/user/devices/{created['deviceId']}/verify")
    wrong = [code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code != otp][:5]
    for code in wrong:
        response = requests.post(url, headers=headers, json={"challengeId": created["challengeId"], "signature": phone.sign(code)})
        assert response.status_code == 403, response.text
        assert response.headers["Content-Type"] == "application/problem+json"
    sixth = requests.post(url, headers=headers, json={"challengeId": created["challengeId"], "signature": phone.sign(otp)})
    assert sixth.status_code == 409, "the 6th attempt finds the challenge closed, even with the right OTP"


def test_signature_by_another_key(server, app):
    headers, number = user_session(server, app, "otherkey")
    phone, thief = Phone(), Phone()
    created = create_device(server, headers, phone)
    otp = server.sms_to(number)
    response = requests.post(server.url(f"/api/user/devices/{created['deviceId']}/verify"), headers=headers,
                             json={"challengeId": created["challengeId"], "signature": thief.sign(otp)})
    assert response.status_code == 403


def test_replayed_and_expired_challenges(server, app):
    headers, number = user_session(server, app, "replay")
    phone = Phone()
    device_id = bind(server, headers, phone, number)
    challenges = server.url(f"/api/user/devices/{device_id}/challenges")

    challenge = requests.post(challenges, headers=headers).json()
    signature = phone.sign(challenge["stringToSign"])
    verify = server.url(f"/api/user/devices/{device_id}/challenges/{challenge['id']}/verify")
    assert requests.post(verify, headers=headers, json={"signature": signature}).status_code == 200
    replay = requests.post(verify, headers=headers, json={"signature": signature})
    assert replay.status_code == 409

    late = requests.post(challenges, headers=headers).json()
    time.sleep(3.2)  # the conformance server's challenges live 3 s
    expired = requests.post(server.url(f"/api/user/devices/{device_id}/challenges/{late['id']}/verify"), headers=headers,
                            json={"signature": phone.sign(late["stringToSign"])})
    assert expired.status_code == 409


def test_removed_device_ends_confirmed_tokens(server, app):
    headers, number = user_session(server, app, "remove")
    phone = Phone()
    device_id = bind(server, headers, phone, number)
    challenge = requests.post(server.url(f"/api/user/devices/{device_id}/challenges"), headers=headers).json()
    body = requests.post(server.url(f"/api/user/devices/{device_id}/challenges/{challenge['id']}/verify"), headers=headers,
                         json={"signature": phone.sign(challenge["stringToSign"])}).json()
    listed = requests.get(server.url("/api/user/devices"), headers=headers).json()
    assert [device["id"] for device in listed] == [device_id]

    # The password token may not remove a device (AssurancePolicy); the confirmed one may.
    assert_step_up(requests.delete(server.url(f"/api/user/devices/{device_id}"), headers=headers))
    confirmed = {"Authorization": "Bearer " + body["token"]}
    assert requests.delete(server.url(f"/api/user/devices/{device_id}"), headers=confirmed).status_code == 204
    assert requests.post(server.url("/oauth/introspect"), auth=app, data={"token": body["token"]}).json() == {"active": False}
    refresh = requests.post(server.url("/oauth/token"), auth=app, data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    assert requests.get(server.url("/api/user/devices"), headers=headers).json() == []


def test_password_only_token_cannot_take_over(server, app):
    """With the password (and an intercepted SMS OTP), not the phone, the
    bound device can neither be removed nor bypassed; the account cannot be deleted."""
    headers, number = user_session(server, app, "takeover")
    phone = Phone()
    device_id = bind(server, headers, phone, number)
    assert_step_up(requests.delete(server.url(f"/api/user/devices/{device_id}"), headers=headers))
    assert_step_up(requests.delete(server.url("/api/v2/users"), headers=headers))
    attacker = Phone()
    attacker_device = bind(server, headers, attacker, number)
    statuses = {d["id"]: d["status"] for d in requests.get(server.url("/api/user/devices"), headers=headers).json()}
    assert statuses == {device_id: "ACTIVE", attacker_device: "PENDING_COMMIT"}
    assert_step_up(requests.post(server.url(f"/api/user/devices/{attacker_device}/approve"), headers=headers,
                                 json={"approverDeviceId": device_id, "signature": attacker.sign("approve")}))


def test_tokens_carry_acr_and_auth_time(server, app):
    headers, number = user_session(server, app, "acr")
    password = jwt.decode(headers["Authorization"][7:], options={"verify_signature": False})
    assert password["acr"] == "urn:strongauth:acr:1fa" and password["auth_time"] == password["iat"]
    phone = Phone()
    device_id = bind(server, headers, phone, number)
    body = confirm(server, headers, phone, device_id)
    confirmed = jwt.decode(body["token"], options={"verify_signature": False})
    assert confirmed["acr"] == "urn:strongauth:acr:2fa" and confirmed["auth_time"] >= password["auth_time"]
    time.sleep(1.1)
    refreshed = requests.post(server.url("/oauth/token"), auth=app,
                              data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}).json()
    renewed = jwt.decode(refreshed["access_token"], options={"verify_signature": False})
    assert renewed["auth_time"] == confirmed["auth_time"] and renewed["iat"] > confirmed["auth_time"]


def bind_concurrently(bases, headers, number, server, count=20):
    """Creates `count` devices for one user, then sends their correct verify answers at once,
    spread over `bases` (one or several nodes). Every answer is checked (204) or refused by the
    per-user binding factor, which admits at most 10 answers in flight (429). Returns the number
    checked and the user's device statuses."""
    import concurrent.futures
    pending = []
    for _ in range(count):
        phone = Phone()
        before = sms_count(server, number)
        created = create_device(server, headers, phone)
        pending.append((created, phone.sign(new_sms(server, number, before))))
    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(lambda item: requests.post(
            bases[item[0] % len(bases)] + f"/api/user/devices/{item[1][0]['deviceId']}/verify", headers=headers, timeout=30,
            json={"challengeId": item[1][0]["challengeId"], "signature": item[1][1]}), enumerate(pending)))
    codes = [a.status_code for a in answers]
    assert set(codes) <= {204, 429}, [a.text for a in answers if a.status_code not in (204, 429)]
    statuses = [d["status"] for d in requests.get(server.url("/api/user/devices"), headers=headers).json()]
    return codes.count(204), statuses


def test_concurrent_first_bindings_one_active(server, app):
    """20 first bindings verified at once → exactly one ACTIVE, every other
    checked one PENDING_COMMIT awaiting its approval (RTS art. 24)."""
    headers, number = user_session(server, app, "race")
    checked, statuses = bind_concurrently([server.base], headers, number, server)
    assert checked >= 2
    assert statuses.count("ACTIVE") == 1, statuses
    assert statuses.count("PENDING_COMMIT") == checked - 1, statuses
