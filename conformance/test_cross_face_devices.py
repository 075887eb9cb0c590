"""One security model: a PowerAuth registration of `userId X` is a device of the realm's
user X. A Kontist device bound with a password token and the SMS OTP beside an ACTIVE PowerAuth
phone waits in PENDING_COMMIT until that phone approves it through the PowerAuth face (mobile
token API, signed 2FA); a rejection leaves it not ACTIVE. The PowerAuth phone is played by
conformance/powerauth_phone.py, the Kontist phone by test_devices.Phone."""
import hashlib
import json

import pytest
import requests

from test_devices import Phone, bind, user_session
from test_powerauth import KNOWLEDGE_FACTORS, Cloud, activated_phone


@pytest.fixture(scope="module")
def app(server):
    return server.create_client("cross-face-app")


@pytest.fixture(scope="module")
def powerauth(server):
    app_id = server.unique("cross-face-pa")
    application = server.cli("apps", "create", "--id", app_id)
    integration = server.cli("integration-users", "create", "--name", server.unique("cross-face-int"), "--app", app_id)
    return application, Cloud(server, integration["name"], integration["password"])


def fingerprint(public_key_hex: str) -> str:
    """DeviceService.keyFingerprint: the first 8 bytes of SHA-256 over the key, in groups of four."""
    digest = hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16].upper()
    return " ".join(digest[i:i + 4] for i in range(0, 16, 4))


def device_status(server, headers, device_id):
    listed = requests.get(server.url("/api/user/devices"), headers=headers, timeout=10)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    items = body if isinstance(body, list) else body.get("devices", body.get("items", []))
    return next((item.get("status") for item in items if item.get("id") == device_id), None)


def setup_user(server, app, powerauth, name):
    """A user with a phone number, a password token, and a committed (ACTIVE) PowerAuth phone."""
    headers, number = user_session(server, app, name)
    application, cloud = powerauth
    pa_phone, _ = activated_phone(server, application, cloud, user_id=f"{name}-{server.run_id}")
    return headers, number, pa_phone


def mobile(server, path, body: bytes, header):
    return requests.post(server.url("/enrollment-server/api/auth/token/app/operation" + path), data=body, timeout=10,
                         headers={"Content-Type": "application/json", **header})


def pending_device_operation(server, pa_phone):
    token_id, token_secret = pa_phone.create_token()
    listed = mobile(server, "/list", b"{}", {"X-PowerAuth-Token": pa_phone.token_header(token_id, token_secret)})
    assert listed.status_code == 200, listed.text
    operations = [item for item in listed.json()["responseObject"] if item["name"] == "approve_device"]
    assert len(operations) == 1, listed.text
    return operations[0]


def test_a_powerauth_phone_approves_a_new_kontist_device_through_the_powerauth_face(server, app, powerauth):
    headers, number, pa_phone = setup_user(server, app, powerauth, "cross-face-approve")
    kontist = Phone()
    device_id = bind(server, headers, kontist, number)
    # The attack of before: the password token + the SMS OTP alone made it ACTIVE.
    assert device_status(server, headers, device_id) == "PENDING_COMMIT"
    early = requests.post(server.url(f"/api/user/devices/{device_id}/challenges"), headers=headers, timeout=10)
    assert early.status_code == 409, early.text

    operation = pending_device_operation(server, pa_phone)
    assert fingerprint(kontist.public_key_hex) in operation["data"], operation
    assert "iPhone XS" in operation["formData"]["message"], operation

    body = json.dumps({"requestObject": {"id": operation["id"], "data": operation["data"]}}).encode()
    authorized = mobile(server, "/authorize", body,
                        {"X-PowerAuth-Authorization": pa_phone.sign("POST", "/operation/authorize", body, KNOWLEDGE_FACTORS)})
    assert authorized.status_code == 200 and authorized.json()["status"] == "OK", authorized.text
    assert device_status(server, headers, device_id) == "ACTIVE"

    again = mobile(server, "/authorize", body,
                   {"X-PowerAuth-Authorization": pa_phone.sign("POST", "/operation/authorize", body, KNOWLEDGE_FACTORS)})
    assert again.status_code == 400 and again.json()["responseObject"]["code"] == "OPERATION_ALREADY_FINISHED", again.text


def test_a_powerauth_phone_rejecting_the_new_kontist_device_leaves_it_not_active(server, app, powerauth):
    headers, number, pa_phone = setup_user(server, app, powerauth, "cross-face-reject")
    device_id = bind(server, headers, Phone(), number)
    assert device_status(server, headers, device_id) == "PENDING_COMMIT"
    operation = pending_device_operation(server, pa_phone)
    body = json.dumps({"requestObject": {"id": operation["id"], "reason": "UNEXPECTED_OPERATION"}}).encode()
    rejected = mobile(server, "/cancel", body,
                      {"X-PowerAuth-Authorization": pa_phone.sign("POST", "/operation/cancel", body, ("possession",))})
    assert rejected.status_code == 200, rejected.text
    assert device_status(server, headers, device_id) in (None, "REMOVED")
    challenge = requests.post(server.url(f"/api/user/devices/{device_id}/challenges"), headers=headers, timeout=10)
    assert challenge.status_code in (404, 409), challenge.text
