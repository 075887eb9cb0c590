"""`/pa/v3/vault/unlock` (SECURITY.md) with the conformance phone (conformance/powerauth_phone.py).

The phone derives KEY_ENCRYPTION_VAULT itself at activation (KDF index 2000 of the master
secret); the server sends it encrypted under KEY_TRANSPORT (AES-CBC, zero IV, PKCS#7) inside an
activation-scope ECIES envelope (sh1 `/pa/vault/unlock`), after a two-factor signature over the
encrypted body (uriId `/pa/vault/unlock`). What the phone decrypts must be the key it derived.
"""
import os

import pytest

import powerauth_phone as pa
from test_powerauth import (VERSIONS, activated_phone, app, assert_powerauth_error, cloud,  # noqa: F401 (fixtures)
                            create_registration, phone_cli)


def post(phone, body: bytes, header: str):
    return phone.transport.post("/pa/v3/vault/unlock", body, {"X-PowerAuth-Authorization": header})


@pytest.mark.parametrize("version", VERSIONS)
def test_vault_unlock_returns_the_vault_key_the_phone_derived(server, app, cloud, version):
    phone, _ = activated_phone(server, app, cloud, version)
    assert phone.unlock_vault("ADD_BIOMETRY") == phone.keys["vault"]
    assert phone.unlock_vault(None, factors=("possession", "biometry")) == phone.keys["vault"]
    assert phone.unlock_vault("FETCH_ENCRYPTION_KEY", factors=("possession", "knowledge", "biometry")) == phone.keys["vault"]
    assert phone.status()["failedAttempts"] == 0


def test_vault_unlock_wrong_pin_is_refused_and_counted(server, app, cloud):
    phone, registration = activated_phone(server, app, cloud)
    for attempt in range(1, 6):
        body, header, _ = phone.vault_unlock_request("ADD_BIOMETRY", knowledge_key=os.urandom(16))
        assert_powerauth_error(post(phone, body, header), "ERR_AUTHENTICATION")
        assert phone.status()["failedAttempts"] == attempt
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "BLOCKED"
    body, header, _ = phone.vault_unlock_request("ADD_BIOMETRY")
    assert_powerauth_error(post(phone, body, header), "ERR_AUTHENTICATION")


def test_vault_unlock_needs_two_factors_and_refuses_a_replay(server, app, cloud):
    phone, registration = activated_phone(server, app, cloud)
    body, header, _ = phone.vault_unlock_request("ADD_BIOMETRY", factors=("possession",))
    assert_powerauth_error(post(phone, body, header), "ERR_AUTHENTICATION")
    assert_powerauth_error(phone.transport.post("/pa/v3/vault/unlock", body), "ERR_AUTHENTICATION")

    body, header, encryptor = phone.vault_unlock_request("ADD_BIOMETRY")
    first = post(phone, body, header)
    assert phone.decrypt_vault_key(encryptor, first) == phone.keys["vault"]
    assert_powerauth_error(post(phone, body, header), "ERR_AUTHENTICATION")
    assert phone.status()["failedAttempts"] == 0
    assert cloud.registration(registration["registrationId"])["registrationStatus"] == "ACTIVE"


@pytest.mark.parametrize("plaintext", [b'{"reason": "x"}', b'{"reason": "A B C"}', b'{"reason": 5}', b"not json"])
def test_vault_unlock_malformed_request_is_a_400(server, app, cloud, plaintext):
    phone, _ = activated_phone(server, app, cloud)
    body, header, _ = phone.vault_unlock_request(plaintext=plaintext)
    response = post(phone, body, header)
    assert response.status_code == 400, response.text
    assert_powerauth_error(response)


def test_cli_simulator_unlocks_the_vault(server, app, cloud):
    registration = create_registration(cloud, app)
    registration_id = registration["registrationId"]
    phone_cli(server, "device", "activate", "--server", server.base, "--app-key", app["appKey"],
              "--app-secret", app["appSecret"], "--master-public-key", app["masterPublicKey"],
              "--code", registration["activationQrCodeData"], "--pin", "2468")
    assert cloud.commit(registration_id).status_code == 200
    unlocked = phone_cli(server, "device", "vault-unlock", "--activation-id", registration_id, "--pin", "2468",
                         "--reason", "ADD_BIOMETRY")
    assert unlocked == {"activationId": registration_id, "reason": "ADD_BIOMETRY", "vaultUnlocked": True}
    # Without a PIN the simulator signs possession + biometry.
    assert phone_cli(server, "device", "vault-unlock", "--activation-id", registration_id)["vaultUnlocked"] is True
