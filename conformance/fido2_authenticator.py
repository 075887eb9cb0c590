"""A software WebAuthn authenticator and the browser around it, for the passkey conformance tests.

The bytes a relying party checks are made by Yubico's `fido2` library (python-fido2), not by this
file: authenticator data, attested credential data, attestation objects, clientDataJSON and COSE
keys are `fido2.webauthn` / `fido2.cose` objects, and the JSON forms the server receives are
`fido2.webauthn.RegistrationResponse` / `AuthenticationResponse` serialised by fido2 itself.
This file only decides what goes into them (the keys, made with `cryptography`) and plays the
browser's part: it reads the server's `PublicKeyCredentialCreationOptionsJSON` /
`PublicKeyCredentialRequestOptionsJSON`, refuses an rp.id its origin may not use (fido2's own
`verify_rp_id`, the browser rule), and answers `RegistrationResponseJSON` /
`AuthenticationResponseJSON` dicts (base64url without padding).

Attestation: `none`, `packed` self (signed by the credential key) and `packed` full (x5c: a leaf
issued by `AttestationCA`, with the fields WebAuthn §8.2.1 requires of a packed attestation
certificate: C, O, OU "Authenticator Attestation", CN, basicConstraints CA=false and the AAGUID
in extension 1.3.6.1.4.1.45724.1.1.4). The attestation statement is passed through as the
authenticator made it, as a browser does for `attestation: "direct"`.

Everything an attacker could change is a keyword argument of `create` / `get` (another origin,
another challenge, UV cleared, a chosen signature counter, another key…), and `clone()` copies
the authenticator with its keys, as a cloned security key would be. `browser=False` turns the
browser's own checks off: an attacker's script is not a browser and signs whatever it likes.
"""
from __future__ import annotations

import copy
import datetime
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID
from fido2.cose import ES256, RS256, CoseKey, EdDSA
from fido2.rpid import verify_rp_id
from fido2.utils import websafe_encode
from fido2.webauthn import (
    Aaguid,
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorAssertionResponse,
    AuthenticatorAttachment,
    AuthenticatorAttestationResponse,
    AuthenticatorData,
    AuthenticationResponse,
    CollectedClientData,
    PublicKeyCredentialCreationOptions,
    PublicKeyCredentialRequestOptions,
    RegistrationResponse,
)

FLAG = AuthenticatorData.FLAG

# The COSE algorithms this authenticator can make keys for, by their COSE identifier.
ALGORITHMS = {ES256.ALGORITHM: "ES256", EdDSA.ALGORITHM: "EdDSA", RS256.ALGORITHM: "RS256"}

# The FIDO AAGUID extension of a packed attestation certificate (WebAuthn §8.2.1).
AAGUID_EXTENSION = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")

TEST_AAGUID = Aaguid(bytes.fromhex("5374726f6e6741757468546573740001"))  # "StrongAuthTest" 0001


class BrowserRefusal(Exception):
    """What `navigator.credentials.create/get` would reject with (a DOMException's name and why)."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name


def b64url(data: bytes) -> str:
    return websafe_encode(data)


def _json_dict(mapping: Mapping) -> dict:
    """fido2's JSON mapping as plain dicts and strings (what `JSON.stringify` of the credential gives)."""
    def plain(value):
        if isinstance(value, Mapping):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        if isinstance(value, bytes):
            return b64url(value)
        return value
    return plain(mapping)


def new_private_key(algorithm: int):
    if algorithm == ES256.ALGORITHM:
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == RS256.ALGORITHM:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == EdDSA.ALGORITHM:
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported COSE algorithm {algorithm}")


def cose_public_key(private_key) -> CoseKey:
    """The COSE form of the key's public half, made by fido2."""
    public_key = private_key.public_key()
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return ES256.from_cryptography_key(public_key)
    if isinstance(private_key, rsa.RSAPrivateKey):
        return RS256.from_cryptography_key(public_key)
    return EdDSA.from_cryptography_key(public_key)


def sign(private_key, message: bytes) -> bytes:
    """The WebAuthn signature of `message` for the key's algorithm (ECDSA DER, PKCS#1 v1.5, Ed25519)."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(message, ec.ECDSA(hashes.SHA256()))
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return private_key.sign(message)


def rp_id_hash(rp_id: str) -> bytes:
    return hashlib.sha256(rp_id.encode()).digest()


class AttestationCA:
    """A test root CA that issues packed attestation leaves (WebAuthn §8.2.1), made with `cryptography`."""

    def __init__(self, name: str = "StrongAuth Test Attestation Root"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "StrongAuth Test Vendor"),
                             x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue_leaf(self, aaguid: bytes, *, organizational_unit: str = "Authenticator Attestation",
                   ca: bool = False, include_aaguid: bool = True):
        """A fresh P-256 attestation key and its certificate; the keyword arguments break §8.2.1 on purpose."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "StrongAuth Test Vendor"),
                             x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, organizational_unit),
                             x509.NameAttribute(NameOID.COMMON_NAME, "StrongAuth Test Authenticator")])
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if include_aaguid:
            # The extension's value is an OCTET STRING holding the 16 AAGUID bytes (DER: 04 10 …).
            builder = builder.add_extension(x509.UnrecognizedExtension(AAGUID_EXTENSION, b"\x04\x10" + bytes(aaguid)),
                                            critical=False)
        return key, builder.sign(self.key, hashes.SHA256())


@dataclass
class Credential:
    """A discoverable credential the authenticator holds."""
    credential_id: bytes
    private_key: Any
    rp_id: str
    user_handle: bytes
    sign_count: int

    @property
    def public_key(self) -> CoseKey:
        return cose_public_key(self.private_key)


class SoftwareAuthenticator:
    """A platform authenticator with user verification (a phone's passkey provider, say) and the browser
    at `origin` that talks to it.

    `attestation`: "none", "packed-self" or "packed-full" (then `attestation_ca` issues the leaf).
    `backup_eligible` / `backed_up`: the BE and BS flags of every response (a synced passkey has both).
    `counter_step`: how much the signature counter grows per use (0: an authenticator without a counter)."""

    def __init__(self, origin: str, *, algorithm: int = ES256.ALGORITHM, attestation: str = "none",
                 attestation_ca: AttestationCA = None, aaguid: bytes = TEST_AAGUID, backup_eligible: bool = False,
                 backed_up: bool = False, counter_step: int = 1, attachment: str = "platform"):
        if attestation not in ("none", "packed-self", "packed-full"):
            raise ValueError(f"unknown attestation {attestation!r}")
        if attestation == "packed-full" and attestation_ca is None:
            attestation_ca = AttestationCA()
        self.origin = origin
        self.algorithm = algorithm
        self.attestation = attestation
        self.attestation_ca = attestation_ca
        self.aaguid = Aaguid(bytes(aaguid))
        self.backup_eligible = backup_eligible
        self.backed_up = backed_up
        self.counter_step = counter_step
        self.attachment = AuthenticatorAttachment(attachment)
        self.credentials: dict[bytes, Credential] = {}

    # --- the authenticator's state -------------------------------------------------------------

    def clone(self) -> "SoftwareAuthenticator":
        """A copy with the same keys and counters (a cloned authenticator): from here on the two count apart."""
        twin = copy.copy(self)
        twin.credentials = {cid: copy.copy(credential) for cid, credential in self.credentials.items()}
        return twin

    def credential(self, credential_id: bytes = None) -> Credential:
        """The credential with this id (the only one, when the authenticator holds one)."""
        if credential_id is None:
            if len(self.credentials) != 1:
                raise ValueError(f"{len(self.credentials)} credentials: say which")
            return next(iter(self.credentials.values()))
        return self.credentials[credential_id]

    def _flags(self, *, user_verified: bool, user_present: bool, attested: bool) -> AuthenticatorData.FLAG:
        flags = FLAG(0)
        if user_present:
            flags |= FLAG.UP
        if user_verified:
            flags |= FLAG.UV
        if self.backup_eligible:
            flags |= FLAG.BE
        if self.backed_up:
            flags |= FLAG.BS
        if attested:
            flags |= FLAG.AT
        return flags

    # --- the browser's checks ------------------------------------------------------------------

    def _check_rp_id(self, rp_id: str, origin: str):
        if not verify_rp_id(rp_id, origin):
            raise BrowserRefusal("SecurityError", f"the RP ID {rp_id!r} is not valid for the origin {origin!r}")

    # --- navigator.credentials.create ----------------------------------------------------------

    def create(self, options: Mapping, *, origin: str = None, browser: bool = True, user_verified: bool = True,
               user_present: bool = True, challenge: bytes = None, rp_id: str = None, client_data_type: str = None,
               sign_count: int = 0, algorithm: int = None, credential_id: bytes = None,
               attestation: str = None, attestation_key=None, attestation_chain: list = None,
               client_data_extra: Mapping = None, keep: bool = True) -> dict:
        """The `RegistrationResponseJSON` for the server's `PublicKeyCredentialCreationOptionsJSON`.

        The keyword arguments are the attacks: `origin` the browser reports, `browser=False` skips
        the browser's checks, `challenge` / `rp_id` replace the server's, `user_verified=False`
        clears UV, `attestation_key` / `attestation_chain` replace the packed-full statement's key
        and x5c. `keep=False` does not store the credential (a response the server should refuse)."""
        public_key = PublicKeyCredentialCreationOptions.from_dict(options)
        origin = origin or self.origin
        rp_id = rp_id or public_key.rp.id or _host(origin)
        if browser:
            self._check_rp_id(public_key.rp.id or _host(origin), origin)
            offered = [param.alg for param in public_key.pub_key_cred_params if param.type == "public-key"]
            if algorithm is None:
                usable = [alg for alg in offered if alg == self.algorithm]
                if not usable:
                    raise BrowserRefusal("NotSupportedError", f"the authenticator has no key type among {offered}")
            excluded = {descriptor.id for descriptor in public_key.exclude_credentials or []}
            if excluded & set(self.credentials):
                raise BrowserRefusal("InvalidStateError", "the authenticator already holds an excluded credential")
        algorithm = algorithm or self.algorithm
        private_key = new_private_key(algorithm)
        credential_id = credential_id or os.urandom(32)
        credential = Credential(credential_id, private_key, rp_id, bytes(public_key.user.id), sign_count)

        client_data = CollectedClientData.create(
            type=client_data_type or CollectedClientData.TYPE.CREATE, challenge=challenge or public_key.challenge,
            origin=origin, cross_origin=False, **(client_data_extra or {}))
        auth_data = AuthenticatorData.create(
            rp_id_hash(rp_id), self._flags(user_verified=user_verified, user_present=user_present, attested=True),
            sign_count, AttestedCredentialData.create(self.aaguid if self.attestation != "none" else Aaguid.NONE,
                                                      credential_id, credential.public_key))
        fmt, statement = self._attestation_statement(attestation or self.attestation, auth_data, client_data,
                                                     private_key, attestation_key, attestation_chain)
        response = RegistrationResponse(
            raw_id=credential_id,
            response=AuthenticatorAttestationResponse(
                client_data=client_data, attestation_object=AttestationObject.create(fmt, auth_data, statement)),
            authenticator_attachment=self.attachment,
        )
        if keep:
            self.credentials[credential_id] = credential
        return _json_dict(response)

    def _attestation_statement(self, attestation, auth_data, client_data, private_key, attestation_key, chain):
        signed = bytes(auth_data) + client_data.hash
        if attestation == "none":
            return "none", {}
        if attestation == "packed-self":
            return "packed", {"alg": cose_public_key(private_key).ALGORITHM, "sig": sign(private_key, signed)}
        if attestation_key is None:
            attestation_key, leaf = self.attestation_ca.issue_leaf(self.aaguid)
            chain = chain or [leaf.public_bytes(serialization.Encoding.DER)]
        return "packed", {"alg": ES256.ALGORITHM, "sig": sign(attestation_key, signed), "x5c": list(chain)}

    # --- navigator.credentials.get -------------------------------------------------------------

    def get(self, options: Mapping, *, origin: str = None, browser: bool = True, credential_id: bytes = None,
            user_verified: bool = True, user_present: bool = True, challenge: bytes = None, rp_id: str = None,
            client_data_type: str = None, sign_count: int = None, signing_key=None, user_handle: bytes = None,
            client_data_extra: Mapping = None, tamper: Callable[[bytes], bytes] = None) -> dict:
        """The `AuthenticationResponseJSON` for the server's `PublicKeyCredentialRequestOptionsJSON`.

        The credential is `credential_id`, else the first of allowCredentials the authenticator holds,
        else (a discoverable request) its credential for the rp id. The signature counter grows by
        `counter_step` unless `sign_count` sets it (a clone's stale counter). `signing_key` signs instead
        of the credential's key; `tamper` changes the authenticator data after signing."""
        public_key = PublicKeyCredentialRequestOptions.from_dict(options)
        origin = origin or self.origin
        requested_rp_id = public_key.rp_id or _host(origin)
        if browser:
            self._check_rp_id(requested_rp_id, origin)
        credential = self._select(public_key, requested_rp_id, credential_id, browser)
        if sign_count is None:
            credential.sign_count += self.counter_step
            sign_count = credential.sign_count
        else:
            credential.sign_count = sign_count

        client_data = CollectedClientData.create(
            type=client_data_type or CollectedClientData.TYPE.GET, challenge=challenge or public_key.challenge,
            origin=origin, cross_origin=False, **(client_data_extra or {}))
        auth_data = AuthenticatorData.create(
            rp_id_hash(rp_id or requested_rp_id),
            self._flags(user_verified=user_verified, user_present=user_present, attested=False), sign_count)
        signature = sign(signing_key or credential.private_key, bytes(auth_data) + client_data.hash)
        if tamper is not None:
            auth_data = AuthenticatorData(tamper(bytes(auth_data)))
        response = AuthenticationResponse(
            raw_id=credential.credential_id,
            response=AuthenticatorAssertionResponse(
                client_data=client_data, authenticator_data=auth_data, signature=signature,
                user_handle=credential.user_handle if user_handle is None else user_handle),
            authenticator_attachment=self.attachment,
        )
        return _json_dict(response)

    def _select(self, public_key: PublicKeyCredentialRequestOptions, rp_id: str, credential_id: bytes,
                browser: bool) -> Credential:
        if credential_id is not None:
            return self.credentials[credential_id]
        allowed = [descriptor.id for descriptor in public_key.allow_credentials or []]
        if allowed:
            held = [self.credentials[cid] for cid in allowed if cid in self.credentials]
        else:
            held = [credential for credential in self.credentials.values() if credential.rp_id == rp_id]
        if not held:
            if browser:
                raise BrowserRefusal("NotAllowedError", "the authenticator holds no credential the request allows")
            return self.credential()
        return held[0]


def _host(origin: str) -> str:
    from urllib.parse import urlparse
    return urlparse(origin).hostname or ""


def dumps(response: Mapping) -> str:
    """The JSON a browser's `JSON.stringify(credential)` would send."""
    return json.dumps(response, separators=(",", ":"))
