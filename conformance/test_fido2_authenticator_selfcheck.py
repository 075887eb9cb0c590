"""The software authenticator of test_passkeys.py (fido2_authenticator.py) checked without our server.

py_webauthn 3.0.1 (Duo Labs, an independent relying party) verifies its registrations and assertions,
and fido2's own attestation verifier checks the packed full attestation certificates against
WebAuthn §8.2.1. Every attack knob the passkey tests rely on is shown here to make a response an
independent relying party refuses, so that a refusal by our server means something."""
import base64
import json
import os

import pytest
from fido2.attestation import AttestationVerifier, InvalidData, UntrustedAttestation
from fido2.webauthn import AttestationObject, CollectedClientData
from webauthn import (generate_authentication_options, generate_registration_options, options_to_json,
                      verify_authentication_response, verify_registration_response)
from webauthn.helpers import parse_authentication_credential_json, parse_registration_credential_json
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (AttestationConveyancePreference, AttestationFormat, AuthenticatorSelectionCriteria,
                                      COSEAlgorithmIdentifier, CredentialDeviceType, PublicKeyCredentialDescriptor,
                                      ResidentKeyRequirement, UserVerificationRequirement)

from fido2_authenticator import AttestationCA, BrowserRefusal, SoftwareAuthenticator, dumps

RP_ID = "localhost"
ORIGIN = "http://localhost:8443"
ALGORITHMS = {"ES256": -7, "EdDSA": -8, "RS256": -257}
ATTESTATIONS = ["none", "packed-self", "packed-full"]


def creation_options(exclude=(), algorithms=(-7, -8, -257)):
    """py_webauthn's PublicKeyCredentialCreationOptionsJSON (what a relying party sends), and its challenge."""
    options = generate_registration_options(
        rp_id=RP_ID, rp_name="StrongAuth", user_name="alice", user_id=os.urandom(16),
        attestation=AttestationConveyancePreference.DIRECT,
        authenticator_selection=AuthenticatorSelectionCriteria(resident_key=ResidentKeyRequirement.REQUIRED,
                                                               user_verification=UserVerificationRequirement.REQUIRED),
        supported_pub_key_algs=[COSEAlgorithmIdentifier(alg) for alg in algorithms],
        exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in exclude])
    return json.loads(options_to_json(options)), options.challenge


def request_options(allow=()):
    options = generate_authentication_options(rp_id=RP_ID, user_verification=UserVerificationRequirement.REQUIRED,
                                               allow_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in allow])
    return json.loads(options_to_json(options)), options.challenge


def verify_registration(response, challenge, roots=None, origin=ORIGIN):
    return verify_registration_response(
        credential=parse_registration_credential_json(dumps(response)), expected_challenge=challenge,
        expected_origin=origin, expected_rp_id=RP_ID, require_user_verification=True,
        pem_root_certs_bytes_by_fmt={AttestationFormat.PACKED: roots} if roots else None)


def verify_assertion(response, challenge, registered, stored_count):
    return verify_authentication_response(
        credential=parse_authentication_credential_json(dumps(response)), expected_challenge=challenge,
        expected_rp_id=RP_ID, expected_origin=ORIGIN, credential_public_key=registered.credential_public_key,
        credential_current_sign_count=stored_count, require_user_verification=True)


def register(authenticator, **knobs):
    options, challenge = creation_options()
    response = authenticator.create(options, **knobs)
    return response, challenge


class RootVerifier(AttestationVerifier):
    """fido2's attestation verifier trusting one root: checks the chain and the §8.2.1 certificate fields."""

    def __init__(self, root_der):
        super().__init__()
        self.root_der = root_der

    def ca_lookup(self, attestation_result, auth_data):
        return self.root_der


def fido2_verify_attestation(response, root: AttestationCA):
    from cryptography.hazmat.primitives import serialization
    attestation = AttestationObject(base64.urlsafe_b64decode(response["response"]["attestationObject"] + "=="))
    client_data = CollectedClientData(base64.urlsafe_b64decode(response["response"]["clientDataJSON"] + "=="))
    RootVerifier(root.certificate.public_bytes(serialization.Encoding.DER)).verify_attestation(attestation, client_data.hash)


@pytest.mark.parametrize("attestation", ATTESTATIONS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_py_webauthn_verifies_registrations_and_assertions(algorithm, attestation):
    authenticator = SoftwareAuthenticator(ORIGIN, algorithm=ALGORITHMS[algorithm], attestation=attestation)
    response, challenge = register(authenticator)
    registered = verify_registration(response, challenge,
                                     roots=[authenticator.attestation_ca.pem] if attestation == "packed-full" else None)
    assert registered.fmt == ("none" if attestation == "none" else "packed")
    assert registered.user_verified and registered.sign_count == 0
    assert registered.credential_id == authenticator.credential().credential_id

    count = 0
    for _ in range(3):
        options, challenge = request_options(allow=[registered.credential_id])
        verified = verify_assertion(authenticator.get(options), challenge, registered, count)
        assert verified.new_sign_count == count + 1 and verified.user_verified
        count = verified.new_sign_count


def test_json_forms_are_webauthn_l3_and_base64url_without_padding():
    authenticator = SoftwareAuthenticator(ORIGIN)
    registration, _ = register(authenticator)
    options, _ = request_options()
    assertion = authenticator.get(options)  # discoverable: no allowCredentials
    for response, fields in ((registration, {"clientDataJSON", "attestationObject"}),
                             (assertion, {"clientDataJSON", "authenticatorData", "signature", "userHandle"})):
        assert set(response) == {"id", "rawId", "type", "response", "clientExtensionResults", "authenticatorAttachment"}
        assert response["type"] == "public-key" and response["id"] == response["rawId"]
        assert response["clientExtensionResults"] == {} and response["authenticatorAttachment"] == "platform"
        assert set(response["response"]) == fields
        for value in [response["id"], *response["response"].values()]:
            assert "=" not in value and "+" not in value and "/" not in value
    client_data = json.loads(base64.urlsafe_b64decode(assertion["response"]["clientDataJSON"] + "=="))
    assert client_data["type"] == "webauthn.get" and client_data["origin"] == ORIGIN


def test_packed_full_attestation_chains_to_its_root_only():
    authenticator = SoftwareAuthenticator(ORIGIN, attestation="packed-full")
    response, challenge = register(authenticator)
    statement = AttestationObject(base64.urlsafe_b64decode(response["response"]["attestationObject"] + "==")).att_stmt
    assert len(statement["x5c"]) == 1 and statement["alg"] == -7
    verify_registration(response, challenge, roots=[authenticator.attestation_ca.pem])
    fido2_verify_attestation(response, authenticator.attestation_ca)

    stranger = AttestationCA("Another Root")
    with pytest.raises(InvalidRegistrationResponse):
        verify_registration(response, challenge, roots=[stranger.pem])
    with pytest.raises(UntrustedAttestation):
        fido2_verify_attestation(response, stranger)


@pytest.mark.parametrize("broken", [{"organizational_unit": "Marketing"}, {"ca": True}, {"include_aaguid": False}])
def test_leaves_that_break_section_8_2_1_are_refused_by_fido2(broken):
    authenticator = SoftwareAuthenticator(ORIGIN, attestation="packed-full")
    key, leaf = authenticator.attestation_ca.issue_leaf(authenticator.aaguid, **broken)
    from cryptography.hazmat.primitives import serialization
    response, _ = register(authenticator, attestation_key=key,
                           attestation_chain=[leaf.public_bytes(serialization.Encoding.DER)])
    if broken == {"include_aaguid": False}:
        # The extension is optional (§8.2.1: "if present"): the leaf is valid without it.
        fido2_verify_attestation(response, authenticator.attestation_ca)
    else:
        with pytest.raises(InvalidData):
            fido2_verify_attestation(response, authenticator.attestation_ca)


def test_the_browser_refuses_an_rp_id_its_origin_may_not_use():
    authenticator = SoftwareAuthenticator(ORIGIN)
    options, _ = creation_options()
    for rp_id in ("example.com", "127.0.0.1", "localhost.evil"):
        with pytest.raises(BrowserRefusal) as refused:
            authenticator.create(dict(options, rp={"id": rp_id, "name": "x"}))
        assert refused.value.name == "SecurityError"
    with pytest.raises(BrowserRefusal):
        SoftwareAuthenticator("http://127.0.0.1:8443").create(options)  # an IP address is not a valid RP ID host
    with pytest.raises(BrowserRefusal):
        SoftwareAuthenticator("https://evil.example").create(options)
    assert not authenticator.credentials

    authenticator.create(options)
    request, _ = request_options()
    with pytest.raises(BrowserRefusal):
        authenticator.get(dict(request, rpId="example.com"))


def test_excluded_credentials_and_unsupported_algorithms_are_refused():
    authenticator = SoftwareAuthenticator(ORIGIN)
    register(authenticator)
    options, _ = creation_options(exclude=[authenticator.credential().credential_id])
    with pytest.raises(BrowserRefusal) as refused:
        authenticator.create(options)
    assert refused.value.name == "InvalidStateError"
    options, _ = creation_options(algorithms=(-257,))
    with pytest.raises(BrowserRefusal) as refused:
        SoftwareAuthenticator(ORIGIN, algorithm=-8).create(options)
    assert refused.value.name == "NotSupportedError"


def test_attack_knobs_make_responses_an_independent_rp_refuses():
    authenticator = SoftwareAuthenticator(ORIGIN)
    options, challenge = creation_options()
    for knobs in ({"user_verified": False}, {"origin": "https://evil.example", "browser": False},
                  {"challenge": os.urandom(32)}, {"rp_id": "evil.example"}, {"client_data_type": "webauthn.get"}):
        with pytest.raises(InvalidRegistrationResponse):
            verify_registration(authenticator.create(options, keep=False, **knobs), challenge)
    registered = verify_registration(authenticator.create(options), challenge)

    other = SoftwareAuthenticator(ORIGIN)
    register(other)
    for knobs in ({"user_verified": False}, {"origin": "https://evil.example", "browser": False},
                  {"challenge": os.urandom(32)}, {"rp_id": "evil.example", "browser": False},
                  {"signing_key": other.credential().private_key},
                  {"tamper": lambda data: data[:32] + bytes([data[32] | 0x10]) + data[33:]}):
        request, challenge = request_options()
        with pytest.raises(InvalidAuthenticationResponse):
            verify_assertion(authenticator.get(request, **knobs), challenge, registered, 0)


def test_a_clone_signs_with_a_stale_counter():
    authenticator = SoftwareAuthenticator(ORIGIN)
    options, challenge = creation_options()
    registered = verify_registration(authenticator.create(options), challenge)
    clone = authenticator.clone()
    stored = 0
    for _ in range(3):
        request, challenge = request_options()
        stored = verify_assertion(authenticator.get(request), challenge, registered, stored).new_sign_count
    request, challenge = request_options()
    cloned = clone.get(request)  # the clone's counter is 1: below the 3 the relying party has seen
    with pytest.raises(InvalidAuthenticationResponse, match="count"):
        verify_assertion(cloned, challenge, registered, stored)
    request, challenge = request_options()
    with pytest.raises(InvalidAuthenticationResponse, match="count"):
        verify_assertion(authenticator.get(request, sign_count=2), challenge, registered, stored)


def test_backup_flags_are_reported():
    synced = SoftwareAuthenticator(ORIGIN, backup_eligible=True, backed_up=True)
    response, challenge = register(synced)
    registered = verify_registration(response, challenge)
    assert registered.credential_backed_up and registered.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    single = SoftwareAuthenticator(ORIGIN)
    response, challenge = register(single)
    registered = verify_registration(response, challenge)
    assert not registered.credential_backed_up
    assert registered.credential_device_type == CredentialDeviceType.SINGLE_DEVICE
