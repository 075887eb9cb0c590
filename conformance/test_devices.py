"""Device binding (Kontist, SPEC 2.2) with a phone played by Python `cryptography`: the key is
generated here, the DER signatures are made here, the server only ever sees the public key."""
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
    def public_key_hex(self):  # the seed's "hex-encoded public key without header": 04‖X‖Y
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


def bind(server, headers, phone, number):
    created = create_device(server, headers, phone)
    otp = server.sms_to(number)
    verified = requests.post(server.url(f"/api/user/devices/{created['deviceId']}/verify"), headers=headers,
                             json={"challengeId": created["challengeId"], "signature": phone.sign(otp)})
    assert verified.status_code == 204, verified.text
    return created["deviceId"]


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

    assert requests.delete(server.url(f"/api/user/devices/{device_id}"), headers=headers).status_code == 204
    assert requests.post(server.url("/oauth/introspect"), auth=app, data={"token": body["token"]}).json() == {"active": False}
    refresh = requests.post(server.url("/oauth/token"), auth=app, data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    assert requests.get(server.url("/api/user/devices"), headers=headers).json() == []
