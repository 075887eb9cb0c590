#!/usr/bin/env python3
"""Generates Tests/StrongAuthProtocolTests/PackedAttestationVectors.swift.

Packed full attestation (WebAuthn L3 §8.2 with x5c) made by an independent implementation: a
software authenticator on `cryptography` + `cbor2` (pyOpenSSL for the one X.509 v1 certificate)
with a test PKI (root CA → intermediate CA → attestation certificates). The certified vectors are first accepted by py_webauthn 3.0.1
(`verify_registration_response` with `pem_root_certs_bytes_by_fmt`), the wrong-root and
wrong-signature ones refused by it; the §8.2.1 defects (v1, CA leaf, OU, aaguid extension, no C)
are not checked by py_webauthn, so for those the Swift tests are the only judge.

Run from the repository root, then format the output:
    .venv/bin/python scripts/webauthn-packed-attestation-vectors.py > Tests/StrongAuthProtocolTests/PackedAttestationVectors.swift
    swift format -i Tests/StrongAuthProtocolTests/PackedAttestationVectors.swift
Keys are fresh on every run, so the output changes completely each time.

    .venv/bin/python scripts/webauthn-packed-attestation-vectors.py --check
re-checks the committed vectors with py_webauthn instead: each verdict, with the root and with the other root.
"""

import base64
import datetime
import hashlib
import json
import os
import re
import struct
import sys

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier
from webauthn import verify_registration_response
from webauthn.helpers import parse_registration_credential_json
from webauthn.helpers.structs import AttestationFormat

RP_ID, ORIGIN = "bank.example", "https://bank.example"
CHALLENGE = bytes(range(32))
UP, UV, AT = 0x01, 0x04, 0x40
AAGUID = bytes.fromhex("5374726f6e67417574682d5465737431")  # "StrongAuth-Test1"
OTHER_AAGUID = bytes.fromhex("0123456789abcdef0123456789abcdef")
ID_FIDO_GEN_CE_AAGUID = ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")

UTC = datetime.timezone.utc
CA_FROM, CA_UNTIL = datetime.datetime(2026, 1, 1, tzinfo=UTC), datetime.datetime(2046, 1, 1, tzinfo=UTC)
LEAF_UNTIL = datetime.datetime(2031, 1, 1, tzinfo=UTC)
# The tests verify at this time; AFTER_LEAF_EXPIRY is past the leaf's notAfter, inside the CAs'.
VERIFICATION_TIME = datetime.datetime(2026, 12, 1, tzinfo=UTC)
AFTER_LEAF_EXPIRY = datetime.datetime(2032, 1, 1, tzinfo=UTC)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def name(**parts):
    oids = {"C": NameOID.COUNTRY_NAME, "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME}
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in parts.items()])


def certificate(subject, key, issuer, issuer_key, ca, until=CA_UNTIL, aaguid=AAGUID, aaguid_critical=False):
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(CA_FROM)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_key is not key:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    elif aaguid is not None:
        # The extension's value is a DER OCTET STRING holding the 16 AAGUID bytes (WebAuthn §8.2.1).
        builder = builder.add_extension(x509.UnrecognizedExtension(ID_FIDO_GEN_CE_AAGUID, b"\x04\x10" + aaguid), critical=aaguid_critical)
    return builder.sign(issuer_key, hashes.SHA256())


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


root_key, other_root_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
root_name = name(C="DE", O="StrongAuth Tests", CN="StrongAuth Test Attestation Root")
root = certificate(root_name, root_key, root_name, root_key, True)
# Another root with the same name: a chain must reach the given key, not a look-alike.
other_root = certificate(root_name, other_root_key, root_name, other_root_key, True)
intermediate_key = ec.generate_private_key(ec.SECP256R1())
intermediate_name = name(C="DE", O="StrongAuth Tests", CN="StrongAuth Test Attestation CA 1")
intermediate = certificate(intermediate_name, intermediate_key, root_name, root_key, True)

LEAF_NAME = dict(C="DE", O="StrongAuth Tests", OU="Authenticator Attestation", CN="StrongAuth Test Authenticator")
credential_key = ec.generate_private_key(ec.SECP256R1())


def leaf(key, ca=False, until=LEAF_UNTIL, aaguid=AAGUID, aaguid_critical=False, **subject):
    parts = dict(LEAF_NAME)
    parts.update(subject)
    parts = {k: v for k, v in parts.items() if v is not None}
    return certificate(name(**parts), key, intermediate_name, intermediate_key, ca, until, aaguid, aaguid_critical)


def version1_leaf(key):
    """An X.509 v1 attestation certificate (v1 has no extensions); cryptography builds only v3, pyOpenSSL's deprecated builder can."""
    import warnings

    from OpenSSL import crypto

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cert = crypto.X509()
        cert.set_version(0)
        subject = cert.get_subject()
        subject.C, subject.O, subject.OU, subject.CN = "DE", "StrongAuth Tests", "Authenticator Attestation", "StrongAuth Test Authenticator v1"
        cert.set_issuer(crypto.X509.from_cryptography(intermediate).get_subject())
        cert.set_serial_number(x509.random_serial_number())
        cert.set_notBefore(CA_FROM.strftime("%Y%m%d%H%M%SZ").encode())
        cert.set_notAfter(LEAF_UNTIL.strftime("%Y%m%d%H%M%SZ").encode())
        cert.set_pubkey(crypto.PKey.from_cryptography_key(key))
        cert.sign(crypto.PKey.from_cryptography_key(intermediate_key), "sha256")
        return cert.to_cryptography()


def cose(key):
    n = key.public_key().public_numbers()
    return {1: 2, 3: -7, -1: 1, -2: n.x.to_bytes(32, "big"), -3: n.y.to_bytes(32, "big")}


def sign(key, alg, data):
    if alg == -257:
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def client_data():
    return json.dumps({"type": "webauthn.create", "challenge": b64u(CHALLENGE), "origin": ORIGIN, "crossOrigin": False}, separators=(",", ":")).encode()


def register(x5c, signing_key, alg, sig_alg=None):
    """A packed registration by `credential_key`, attested by `signing_key` with `x5c` (DER list or raw CBOR value)."""
    cred_id = os.urandom(16)
    auth = hashlib.sha256(RP_ID.encode()).digest() + bytes([UP | UV | AT]) + struct.pack(">I", 0)
    auth += AAGUID + struct.pack(">H", len(cred_id)) + cred_id + cbor2.dumps(cose(credential_key), canonical=True)
    cdj = client_data()
    sig = sign(signing_key, sig_alg if sig_alg is not None else alg, auth + hashlib.sha256(cdj).digest())
    statement = {"alg": alg, "sig": sig, "x5c": x5c}
    att = cbor2.dumps({"fmt": "packed", "attStmt": statement, "authData": auth}, canonical=True)
    return {"id": b64u(cred_id), "rawId": b64u(cred_id), "type": "public-key",
            "response": {"clientDataJSON": b64u(cdj), "attestationObject": b64u(att)}}


def py_webauthn(cred, roots):
    return verify_registration_response(
        credential=parse_registration_credential_json(json.dumps(cred)), expected_challenge=CHALLENGE, expected_origin=ORIGIN,
        expected_rp_id=RP_ID, require_user_verification=True,
        pem_root_certs_bytes_by_fmt={AttestationFormat.PACKED: [pem(r).encode() for r in roots]})


def refused_by_py_webauthn(cred, roots):
    try:
        py_webauthn(cred, roots)
    except Exception:  # noqa: BLE001 — any refusal will do
        return True
    return False


def check_committed(path="Tests/StrongAuthProtocolTests/PackedAttestationVectors.swift"):
    """py_webauthn's verdict on every committed vector; the certified ones must pass with the root only."""
    source = open(path).read()

    def pem_constant(name):
        body = re.search(name + r' = """\n(.*?)"""', source, re.S).group(1)
        return ("\n".join(line.strip() for line in body.strip().splitlines()) + "\n").encode()

    def field(block, name):
        pieces = re.search(name + r':\s*((?:"[^"]*"\s*(?:\+\s*)?)+)', block).group(1)
        return "".join(re.findall(r'"([^"]*)"', pieces))

    roots = {"root": pem_constant("rootPEM"), "other root": pem_constant("otherRootPEM")}
    for name, block in re.findall(r"static let (\w+) = WebAuthnVectors.Vector\((.*?)\)\n", source, re.S):
        cred = {"id": field(block, "credentialID"), "rawId": field(block, "credentialID"), "type": "public-key",
                "response": {"clientDataJSON": field(block, "clientDataJSON"), "attestationObject": field(block, "attestationObject")}}
        verdicts = {}
        for root_name, root_pem in roots.items():
            try:
                verify_registration_response(
                    credential=parse_registration_credential_json(json.dumps(cred)), expected_challenge=CHALLENGE, expected_origin=ORIGIN,
                    expected_rp_id=RP_ID, require_user_verification=True, pem_root_certs_bytes_by_fmt={AttestationFormat.PACKED: [root_pem]})
                verdicts[root_name] = "accepted"
            except Exception:  # noqa: BLE001 — any refusal will do
                verdicts[root_name] = "refused"
        print(f"{name:24} " + ", ".join(f"{k}: {v}" for k, v in verdicts.items()))
        if name.startswith("certified"):
            assert verdicts == {"root": "accepted", "other root": "refused"}, name


if "--check" in sys.argv:
    check_committed()
    sys.exit(0)

es_leaf_key = ec.generate_private_key(ec.SECP256R1())
rsa_leaf_key = rsa.generate_private_key(65537, 2048)
es_leaf = leaf(es_leaf_key)
rsa_leaf = leaf(rsa_leaf_key, CN="StrongAuth Test Authenticator RSA")
chain = [der(es_leaf), der(intermediate)]

vectors = {}
vectors["certifiedES256"] = register(chain, es_leaf_key, -7)
vectors["certifiedRS256"] = register([der(rsa_leaf), der(intermediate)], rsa_leaf_key, -257)
for certified in ("certifiedES256", "certifiedRS256"):
    v = py_webauthn(vectors[certified], [root])
    assert v.fmt == AttestationFormat.PACKED
    assert refused_by_py_webauthn(vectors[certified], [other_root])

key = ec.generate_private_key(ec.SECP256R1())
vectors["leafIsCA"] = register([der(leaf(key, ca=True)), der(intermediate)], key, -7)
key = ec.generate_private_key(ec.SECP256R1())
vectors["leafVersion1"] = register([der(version1_leaf(key)), der(intermediate)], key, -7)
key = ec.generate_private_key(ec.SECP256R1())
vectors["wrongOU"] = register([der(leaf(key, OU="Authenticator")), der(intermediate)], key, -7)
key = ec.generate_private_key(ec.SECP256R1())
vectors["missingCountry"] = register([der(leaf(key, C=None)), der(intermediate)], key, -7)
key = ec.generate_private_key(ec.SECP256R1())
vectors["aaguidMismatch"] = register([der(leaf(key, aaguid=OTHER_AAGUID)), der(intermediate)], key, -7)
key = ec.generate_private_key(ec.SECP256R1())
vectors["aaguidCritical"] = register([der(leaf(key, aaguid_critical=True)), der(intermediate)], key, -7)
key = ec.generate_private_key(ec.SECP256R1())
# No aaguid extension at all: allowed (§8.2.1 requires it only for roots shared by several models).
vectors["withoutAAGUIDExtension"] = register([der(leaf(key, aaguid=None)), der(intermediate)], key, -7)
assert py_webauthn(vectors["withoutAAGUIDExtension"], [root]).fmt == AttestationFormat.PACKED
# The leaf's certificate, but the statement signed by another key.
vectors["signedByOtherKey"] = register(chain, ec.generate_private_key(ec.SECP256R1()), -7)
assert refused_by_py_webauthn(vectors["signedByOtherKey"], [root])
# alg says RS256, the leaf holds a P-256 key (and signed with it).
vectors["algorithmMismatch"] = register(chain, es_leaf_key, -257, sig_alg=-7)
# The leaf alone: the intermediate is missing, so no chain reaches the root.
vectors["missingIntermediate"] = register([der(es_leaf)], es_leaf_key, -7)
assert refused_by_py_webauthn(vectors["missingIntermediate"], [root])
vectors["x5cEmpty"] = register([], es_leaf_key, -7)
vectors["x5cNotDER"] = register([b"\x30\x03\x02\x01"], es_leaf_key, -7)
vectors["x5cNotBytes"] = register([base64.b64encode(der(es_leaf)).decode()], es_leaf_key, -7)

DOCS = {
    "certifiedES256": "ES256 by an attestation certificate under the intermediate: accepted and certified by py_webauthn.",
    "certifiedRS256": "RS256 by an RSA-2048 attestation certificate under the intermediate: accepted and certified by py_webauthn.",
    "leafIsCA": "The attestation certificate says CA=true (§8.2.1: Basic Constraints CA must be false).",
    "leafVersion1": "The attestation certificate is X.509 version 1 (§8.2.1: version 3).",
    "wrongOU": "The attestation certificate's OU is \"Authenticator\", not \"Authenticator Attestation\".",
    "missingCountry": "The attestation certificate's subject lacks C.",
    "aaguidMismatch": "The id-fido-gen-ce-aaguid extension names another AAGUID than the authenticator data.",
    "aaguidCritical": "The id-fido-gen-ce-aaguid extension is marked critical (§8.2.1: it must not be).",
    "withoutAAGUIDExtension": "No id-fido-gen-ce-aaguid extension at all: allowed.",
    "signedByOtherKey": "The certified chain, but `sig` made by a key that is not the attestation certificate's.",
    "algorithmMismatch": "`alg` is RS256 while the attestation certificate holds a P-256 key.",
    "missingIntermediate": "Only the attestation certificate in x5c: no chain to the root.",
    "x5cEmpty": "x5c is an empty array.",
    "x5cNotDER": "x5c holds bytes that are not a certificate.",
    "x5cNotBytes": "x5c holds a text string (base64) instead of DER bytes.",
}


def swift_string(value, indent):
    pieces = [value[i:i + 100] for i in range(0, len(value), 100)] or [""]
    return f"\n{indent}+ ".join(f'"{p}"' for p in pieces)


def swift_multiline(text, indent):
    lines = "\n".join(indent + line for line in text.strip().splitlines())
    return f'"""\n{lines}\n{indent}"""'


out = [
    "// Generated by scripts/webauthn-packed-attestation-vectors.py; do not edit by hand.",
    "import Foundation",
    "",
    "/// Packed full attestation (x5c) vectors from an independent software authenticator (`cryptography`",
    "/// 50.0.2, `cbor2` 6.3.0, `pyOpenSSL` 26.4.0 for the v1 certificate), the certified ones accepted by",
    "/// py_webauthn 3.0.1 with `root` as the trust root (`--check` re-checks them). rpID, origin and",
    "/// challenge are those of `WebAuthnVectors`; the credential key is ES256.",
    "enum PackedAttestationVectors {",
    f"    /// Inside every certificate's validity ({VERIFICATION_TIME.isoformat()}).",
    f"    static let verificationTime = Date(timeIntervalSince1970: {int(VERIFICATION_TIME.timestamp())})",
    f"    /// {AFTER_LEAF_EXPIRY.isoformat()}: past the attestation certificates' notAfter ({LEAF_UNTIL.isoformat()}), inside the CAs'.",
    f"    static let afterLeafExpiry = Date(timeIntervalSince1970: {int(AFTER_LEAF_EXPIRY.timestamp())})",
    "    /// The AAGUID in every vector's authenticator data and (unless said otherwise) its attestation certificate.",
    f'    static let aaguid = "{AAGUID.hex()}"',
    "",
    "    /// The trust root every certified vector chains to.",
    f"    static let rootPEM = {swift_multiline(pem(root), '        ')}",
    "    /// A root with the same subject name and another key.",
    f"    static let otherRootPEM = {swift_multiline(pem(other_root), '        ')}",
    "    /// The intermediate CA (also inside the vectors' x5c), to show it is never trusted by itself.",
    f"    static let intermediatePEM = {swift_multiline(pem(intermediate), '        ')}",
]
for key_name, cred in vectors.items():
    out.append("")
    out.append(f"    /// {DOCS[key_name]}")
    out.append(f"    static let {key_name} = WebAuthnVectors.Vector(")
    out.append(f'        credentialID: "{cred["id"]}",')
    out.append(f'        attestationObject:\n            {swift_string(cred["response"]["attestationObject"], "            ")},')
    out.append(f'        clientDataJSON:\n            {swift_string(cred["response"]["clientDataJSON"], "            ")},')
    out.append(f'        credentialPublicKey: "{b64u(cbor2.dumps(cose(credential_key), canonical=True))}")')
out.append("}")
print("\n".join(out))
