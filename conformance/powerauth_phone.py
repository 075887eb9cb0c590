"""An independent PowerAuth 3.x mobile client ("the phone") for the conformance suite.

Written from the public PowerAuth 3.x specification (wultra/powerauth-crypto `docs/`, protocol 3.x
versions of the documents) and checked against the public reference vectors in
shared/vectors/powerauth -- NOT from StrongAuth's Swift sources, so that a misunderstanding shared by
the Swift server and a Swift client cannot hide behind a round trip. Where the prose and the reference
vectors disagree, the vectors win (see the notes at each function).

Layout:
  * crypto primitives and protocol functions (pure, no I/O) -- unit-tested against the vectors;
  * `EciesEncryptor` -- the client side of the ECIES envelope for protocol 3.1, 3.2 and 3.3, plus
    `EciesDecryptor`, a server side used only to check the client against published cryptograms;
  * `PowerAuthPhone` -- an activation's state like the real SDK keeps it, and the Standard RESTful API
    calls (`/pa/v3/...`) over a small `Transport`.

Only the `cryptography` package is used for the primitives, `requests` for HTTP.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import struct
import time
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SUPPORTED_VERSIONS = ("3.1", "3.2", "3.3")

# KDF indexes (Key-derivation.md, 3.x): KEY_MASTER_SECRET -> factor and transport keys.
KDF_INDEX = {
    "possession": 1,
    "knowledge": 2,
    "biometry": 3,
    "transport": 1000,
    "vault": 2000,
}
# Derived from KEY_TRANSPORT (Activation-Status.md 3.1, KeyDerivationUtils.java).
KDF_INDEX_STATUS_IV = 3000
KDF_INDEX_CTR_DATA_HASH = 4000

# SHARED_INFO_1 constants (End-To-End-Encryption.md, "Pre-shared constants").
SH1_ACTIVATION_LAYER_1 = "/pa/generic/application"
SH1_ACTIVATION_LAYER_2 = "/pa/activation"
SH1_TOKEN_CREATE = "/pa/token/create"
SH1_VAULT_UNLOCK = "/pa/vault/unlock"
SH1_GENERIC_APPLICATION = "/pa/generic/application"
SH1_GENERIC_ACTIVATION = "/pa/generic/activation"

# Activation status byte (Activation-Status.md).
STATUS_NAMES = {1: "CREATED", 2: "PENDING_COMMIT", 3: "ACTIVE", 4: "BLOCKED", 5: "REMOVED"}
STATUS_BLOB_MAGIC = bytes.fromhex("DEC0DED1")

# Signature factor orders (Computing-and-Validating-Signatures.md).
SIGNATURE_TYPES = {
    "possession": ("possession",),
    "knowledge": ("knowledge",),
    "biometry": ("biometry",),
    "possession_knowledge": ("possession", "knowledge"),
    "possession_biometry": ("possession", "biometry"),
    "possession_knowledge_biometry": ("possession", "knowledge", "biometry"),
}

CURVE = ec.SECP256R1()


class PowerAuthError(Exception):
    """A protocol failure on the phone's side (bad MAC, bad signature from the server, ...)."""


class PowerAuthHttpError(PowerAuthError):
    """The server answered an enrollment call with a non-2xx status."""

    def __init__(self, what: str, response):
        self.response = response
        self.status_code = response.status_code
        try:
            self.body = response.json()
        except ValueError:
            self.body = response.text
        super().__init__(f"{what}: HTTP {response.status_code}: {str(self.body)[:500]}")


# --------------------------------------------------------------------------------------------------
# Encoding helpers
# --------------------------------------------------------------------------------------------------

def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def b64url_e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def concat_with_sizes(*parts: Optional[bytes]) -> bytes:
    """ByteUtils.concatWithSizes: each part as BE32(length) || part; a missing part as BE32(0)."""
    out = b""
    for part in parts:
        if part is None:
            out += struct.pack(">I", 0)
        else:
            out += struct.pack(">I", len(part)) + part
    return out


def concat_strings(*parts: Optional[str]) -> bytes:
    return concat_with_sizes(*(None if p is None else p.encode("utf-8") for p in parts))


# --------------------------------------------------------------------------------------------------
# Symmetric primitives
# --------------------------------------------------------------------------------------------------

def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def reduce_32_to_16(data: bytes) -> bytes:
    """convert32Bto16B: XOR of the two halves of a 32-byte value."""
    if len(data) != 32:
        raise ValueError("expected 32 bytes")
    return bytes(a ^ b for a, b in zip(data[:16], data[16:]))


def kdf(key: bytes, index: int) -> bytes:
    """KDF(K, i) = AES-128-ECB_K(0x00*8 || BE64(i)).

    Key-derivation.md prose puts the index in the first bytes in some versions; the reference
    vectors (compute-derived-keys.json) put it in the LAST 8 bytes -- the vectors win.
    """
    block = b"\x00" * 8 + struct.pack(">Q", index)
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def kdf_internal(key: bytes, data: bytes) -> bytes:
    """KDF_INTERNAL (KeyGenerator.deriveSecretKeyHmac): reduce_32_to_16(HMAC-SHA256(key, data))."""
    return reduce_32_to_16(hmac_sha256(key, data))


def _pkcs7_pad(data: bytes) -> bytes:
    n = 16 - len(data) % 16
    return data + bytes([n]) * n


def _pkcs7_unpad(data: bytes) -> bytes:
    if not data or len(data) % 16:
        raise PowerAuthError("ciphertext is not a whole number of blocks")
    n = data[-1]
    if n < 1 or n > 16 or data[-n:] != bytes([n]) * n:
        raise PowerAuthError("bad PKCS#7 padding")
    return data[:-n]


def aes_cbc_encrypt(key: bytes, iv: bytes, data: bytes, pad: bool = True) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(_pkcs7_pad(data) if pad else data) + enc.finalize()


def aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes, pad: bool = True) -> bytes:
    if not data or len(data) % 16:
        raise PowerAuthError("ciphertext is not a whole number of blocks")
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = dec.update(data) + dec.finalize()
    return _pkcs7_unpad(plain) if pad else plain


def kdf_x963_sha256(secret: bytes, info: bytes, length: int) -> bytes:
    """ANSI X9.63 KDF with SHA-256: H(Z || BE32(counter) || info), counter from 1."""
    out = b""
    counter = 1
    while len(out) < length:
        out += hashlib.sha256(secret + struct.pack(">I", counter) + info).digest()
        counter += 1
    return out[:length]


# --------------------------------------------------------------------------------------------------
# Elliptic curve helpers (P-256)
# --------------------------------------------------------------------------------------------------

def generate_key_pair() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(CURVE)


def private_key_from_bytes(data: bytes) -> ec.EllipticCurvePrivateKey:
    """A private scalar as the vectors carry it: big-endian, possibly with a leading 0x00 (Java)."""
    return ec.derive_private_key(int.from_bytes(data, "big"), CURVE)


def public_key_from_bytes(data: bytes) -> ec.EllipticCurvePublicKey:
    """An X9.62 point, compressed (33 bytes) or uncompressed (65 bytes)."""
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(CURVE, data)
    except ValueError as error:
        raise PowerAuthError(f"not a P-256 point: {error}") from error


def public_key_bytes(key, compressed: bool = False) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    fmt = serialization.PublicFormat.CompressedPoint if compressed else serialization.PublicFormat.UncompressedPoint
    return key.public_bytes(serialization.Encoding.X962, fmt)


def public_key_x(key) -> bytes:
    """The X coordinate as 32 bytes."""
    if isinstance(key, (bytes, bytearray)):
        key = public_key_from_bytes(bytes(key))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    return key.public_numbers().x.to_bytes(32, "big")


def ecdh(private_key: ec.EllipticCurvePrivateKey, public_key) -> bytes:
    """The raw 32-byte ECDH shared secret (the X coordinate of d*Q)."""
    if isinstance(public_key, (bytes, bytearray)):
        public_key = public_key_from_bytes(bytes(public_key))
    return private_key.exchange(ec.ECDH(), public_key)


def ecdsa_verify_der(public_key, data: bytes, der_signature: bytes) -> bool:
    if isinstance(public_key, (bytes, bytearray)):
        public_key = public_key_from_bytes(bytes(public_key))
    try:
        public_key.verify(der_signature, data, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False


def ecdsa_verify_jose(public_key, data: bytes, raw_signature: bytes) -> bool:
    """ES256 as in JWS: the signature is r || s, 32 bytes each."""
    if len(raw_signature) != 64:
        return False
    der = encode_dss_signature(int.from_bytes(raw_signature[:32], "big"), int.from_bytes(raw_signature[32:], "big"))
    return ecdsa_verify_der(public_key, data, der)


# --------------------------------------------------------------------------------------------------
# Activation keys, fingerprint, counter
# --------------------------------------------------------------------------------------------------

def master_secret(device_private_key: ec.EllipticCurvePrivateKey, server_public_key) -> bytes:
    """KEY_MASTER_SECRET = reduce_32_to_16(ECDH(KEY_DEVICE_PRIV, KEY_SERVER_PUB))."""
    return reduce_32_to_16(ecdh(device_private_key, server_public_key))


def derive_activation_keys(master: bytes) -> dict:
    """possession, knowledge, biometry, transport, vault = KDF(KEY_MASTER_SECRET, 1/2/3/1000/2000)."""
    return {name: kdf(master, index) for name, index in KDF_INDEX.items()}


def fingerprint(device_public_key, activation_id: str, server_public_key) -> str:
    """Activation fingerprint, protocol 3: 8 decimal digits.

    SHA-256(X(devicePub) || UTF8(activationId) || X(serverPub)), X as an unsigned big integer with
    leading zero bytes stripped (public-key-fingerprint-v3.json); then the last 4 bytes big-endian,
    & 0x7FFFFFFF, mod 10^8, zero-padded.
    """
    def normalized_x(key) -> bytes:
        return public_key_x(key).lstrip(b"\x00")

    digest = hashlib.sha256(normalized_x(device_public_key) + activation_id.encode("utf-8")
                            + normalized_x(server_public_key)).digest()
    value = (int.from_bytes(digest[-4:], "big") & 0x7FFFFFFF) % 10 ** 8
    return f"{value:08d}"


def next_ctr_data(ctr_data: bytes) -> bytes:
    """Hash-based counter step: CTR_DATA' = reduce_32_to_16(SHA-256(CTR_DATA))."""
    return reduce_32_to_16(hashlib.sha256(ctr_data).digest())


def ctr_data_hash(transport_key: bytes, ctr_data: bytes) -> bytes:
    """The counter's fingerprint in the status blob: KDF_INTERNAL(KDF(KEY_TRANSPORT, 4000), CTR_DATA)."""
    return kdf_internal(kdf(transport_key, KDF_INDEX_CTR_DATA_HASH), ctr_data)


# --------------------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------------------

def signature_components(keys: Sequence[bytes], ctr_data: bytes, data: bytes) -> list:
    """The per-factor HMAC chain of Computing-and-Validating-Signatures.md.

    Component i: dk = HMAC(K_i, CTR_DATA); for j in 0..<i: dk = HMAC(HMAC(K_{j+1}, CTR_DATA), dk);
    C_i = HMAC(dk, DATA).  The prose's pseudo-code starts every chain from K_0 (`signatureKey.get(0)`);
    the reference vectors (signatures-v3*.json) fit only K_i -- vectors win.
    """
    components = []
    for i in range(len(keys)):
        derived = hmac_sha256(keys[i], ctr_data)
        for j in range(i):
            derived = hmac_sha256(hmac_sha256(keys[j + 1], ctr_data), derived)
        components.append(hmac_sha256(derived, data))
    return components


def online_signature(keys: Sequence[bytes], ctr_data: bytes, data: bytes) -> str:
    """Protocol 3.1+ format: the last 16 bytes of every component, concatenated, Base64."""
    return b64e(b"".join(c[16:] for c in signature_components(keys, ctr_data, data)))


def decimal_signature(keys: Sequence[bytes], ctr_data: bytes, data: bytes, length: int = 8) -> str:
    """Protocol 3.0 / offline format: per component the last 4 bytes big-endian & 0x7FFFFFFF mod 10^L."""
    parts = []
    for c in signature_components(keys, ctr_data, data):
        value = (int.from_bytes(c[-4:], "big") & 0x7FFFFFFF) % 10 ** length
        parts.append(f"{value:0{length}d}")
    return "-".join(parts)


def signature_base_string(method: str, uri_id: str, nonce: bytes, body: bytes, app_secret: str) -> bytes:
    """DATA = METHOD & B64(uriId) & B64(nonce) & B64(body) & APPLICATION_SECRET (Base64 text as is)."""
    request_data = "&".join([method.upper(), b64e(uri_id.encode("utf-8")), b64e(nonce), b64e(body)])
    return (request_data + "&" + app_secret).encode("utf-8")


def authorization_header(activation_id: str, app_key: str, nonce: bytes, signature_type: str,
                         signature: str, version: str) -> str:
    return (f'PowerAuth pa_activation_id="{activation_id}", pa_application_key="{app_key}", '
            f'pa_nonce="{b64e(nonce)}", pa_signature_type="{signature_type}", '
            f'pa_signature="{signature}", pa_version="{version}"')


def parse_powerauth_header(value: str) -> dict:
    """`PowerAuth k="v", k2="v2"` -> {k: v}."""
    if not value.startswith("PowerAuth "):
        raise ValueError("not a PowerAuth header")
    return dict(re.findall(r'([a-z_]+)="([^"]*)"', value[len("PowerAuth "):]))


# --------------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------------

def token_digest(token_secret: bytes, nonce: bytes, timestamp_ms: int, version: str) -> bytes:
    """HMAC-SHA256(TOKEN_SECRET, NONCE || '&' || TIMESTAMP [|| '&' || VERSION]).

    TIMESTAMP is the decimal text of the Unix time in ms. Protocol 3.2+ appends '&' + version
    (TokenUtils.java, 3.x branch; MAC-Token-Based-Authentication.md of 3.2+); 3.0/3.1 do not.
    """
    data = nonce + b"&" + str(timestamp_ms).encode("ascii")
    if version in ("3.2", "3.3"):
        data += b"&" + version.encode("ascii")
    elif version not in ("3.0", "3.1"):
        raise ValueError(f"unsupported version {version}")
    return hmac_sha256(token_secret, data)


def token_header_value(token_id: str, token_secret: bytes, version: str, nonce: Optional[bytes] = None,
                       timestamp_ms: Optional[int] = None) -> str:
    nonce = os.urandom(16) if nonce is None else nonce
    timestamp_ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    digest = token_digest(token_secret, nonce, timestamp_ms, version)
    return (f'PowerAuth token_id="{token_id}", token_digest="{b64e(digest)}", nonce="{b64e(nonce)}", '
            f'timestamp="{timestamp_ms}", version="{version}"')


# --------------------------------------------------------------------------------------------------
# Activation code
# --------------------------------------------------------------------------------------------------

ACTIVATION_CODE_RE = re.compile(r"^[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}$")


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC: poly 0x8005 reflected (0xA001), init 0, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def activation_code_bytes(code: str) -> bytes:
    """The 12 bytes behind a code (10 random + BE16 CRC); raises ValueError when malformed."""
    if not ACTIVATION_CODE_RE.match(code):
        raise ValueError(f"activation code {code!r} is not XXXXX-XXXXX-XXXXX-XXXXX in Base32")
    raw = base64.b32decode(code.replace("-", "") + "====")
    if len(raw) != 12:
        raise ValueError("activation code does not decode to 12 bytes")
    # 20 characters carry 100 bits, the code uses 96: the last 4 bits must be zero (canonical Base32).
    if base64.b32encode(raw).decode("ascii").rstrip("=") != code.replace("-", ""):
        raise ValueError("activation code has non-zero padding bits")
    return raw


def activation_code_is_valid(code: str) -> bool:
    try:
        raw = activation_code_bytes(code)
    except ValueError:
        return False
    return crc16_arc(raw[:10]) == int.from_bytes(raw[10:], "big")


def make_activation_code(random10: bytes) -> str:
    raw = random10 + struct.pack(">H", crc16_arc(random10))
    text = base64.b32encode(raw).decode("ascii").rstrip("=")
    return "-".join(text[i:i + 5] for i in range(0, 20, 5))


def verify_activation_code_signature(master_public_key, code: str, signature_der: bytes) -> bool:
    """The code's signature: ECDSA-SHA256 (DER) by KEY_SERVER_MASTER_PRIVATE over the code's ASCII."""
    return ecdsa_verify_der(master_public_key, code.encode("ascii"), signature_der)


# --------------------------------------------------------------------------------------------------
# Activation status blob
# --------------------------------------------------------------------------------------------------

def status_blob_iv(transport_key: bytes, challenge: bytes, nonce: bytes) -> bytes:
    """IV = KDF_INTERNAL(KDF(KEY_TRANSPORT, 3000), CHALLENGE || NONCE) (protocol 3.1+).

    One stored version of KeyDerivationUtils.java computes KDF_INTERNAL(.., CHALLENGE) XOR NONCE;
    the reference vectors (activation-status-blob-iv.json) fit only CHALLENGE || NONCE -- vectors win.
    """
    if len(challenge) != 16 or len(nonce) != 16:
        raise PowerAuthError("status challenge and nonce must be 16 bytes each")
    return kdf_internal(kdf(transport_key, KDF_INDEX_STATUS_IV), challenge + nonce)


def decrypt_status_blob(transport_key: bytes, challenge: bytes, nonce: bytes, encrypted: bytes) -> dict:
    """AES-128-CBC (no padding) under KEY_TRANSPORT; the 32-byte 3.1 layout:

    magic DE C0 DE D1 | status | currentVersion | upgradeVersion | 5 reserved | ctrByte |
    failedAttempts | maxFailedAttempts | ctrLookAhead | ctrDataHash (16)
    """
    if len(encrypted) != 32:
        raise PowerAuthError(f"status blob is {len(encrypted)} bytes, expected 32")
    blob = aes_cbc_decrypt(transport_key, status_blob_iv(transport_key, challenge, nonce), encrypted, pad=False)
    if blob[:4] != STATUS_BLOB_MAGIC:
        raise PowerAuthError(f"status blob magic is {blob[:4].hex()}, expected dec0ded1 (wrong key or IV?)")
    return {
        "activationStatus": blob[4],
        "activationStatusName": STATUS_NAMES.get(blob[4], f"UNKNOWN({blob[4]})"),
        "currentVersion": blob[5],
        "upgradeVersion": blob[6],
        "reserved": blob[7:12],
        "ctrByte": blob[12],
        "failedAttempts": blob[13],
        "maxFailedAttempts": blob[14],
        "ctrLookAhead": blob[15],
        "ctrDataHash": blob[16:32],
    }


def counter_distance(transport_key: bytes, ctr_data: bytes, server_hash: bytes, look_ahead: int) -> Optional[int]:
    """How many steps forward from the phone's CTR_DATA the server's counter is (None: not within look-ahead)."""
    current = ctr_data
    for distance in range(max(look_ahead, 1)):
        if hmac.compare_digest(ctr_data_hash(transport_key, current), server_hash):
            return distance
        current = next_ctr_data(current)
    return None


# --------------------------------------------------------------------------------------------------
# ECIES (End-To-End-Encryption.md, protocol 3.1 / 3.2 / 3.3)
# --------------------------------------------------------------------------------------------------

def ecies_shared_info1(sh1: str, version: str) -> bytes:
    """SHARED_INFO_1 as fed to the KDF: 3.2+ prefix it with the version text (EncryptorId.java, 3.x)."""
    if version == "3.1":
        return sh1.encode("utf-8")
    return version.encode("utf-8") + sh1.encode("utf-8")


def ecies_shared_info2_base(app_secret: str, transport_key: Optional[bytes] = None) -> bytes:
    """Application scope: SHA-256(APP_SECRET ASCII); activation scope: HMAC(KEY_TRANSPORT, APP_SECRET ASCII)."""
    secret = app_secret.encode("utf-8")
    if transport_key is None:
        return hashlib.sha256(secret).digest()
    return hmac_sha256(transport_key, secret)


def ecies_associated_data(version: str, app_key: str, activation_id: Optional[str],
                          temporary_key_id: Optional[str]) -> Optional[bytes]:
    """3.2: concatStrings(version, appKey[, activationId]); 3.3 appends the temporary key id; 3.1: none."""
    if version == "3.1":
        return None
    parts = [version, app_key]
    if activation_id is not None:
        parts.append(activation_id)
    if version == "3.3":
        if temporary_key_id is None:
            raise PowerAuthError("protocol 3.3 needs a temporary key id")
        parts.append(temporary_key_id)
    return concat_strings(*parts)


def ecies_shared_info2(version: str, base: bytes, nonce: Optional[bytes], timestamp: Optional[int],
                       ephemeral_public_key: Optional[bytes], associated_data: Optional[bytes]) -> bytes:
    """3.1: SH2 = base. 3.2+: concatWithSizes(base, nonce, BE64(ts), ephemeralKey | none, AD)."""
    if version == "3.1":
        return base
    return concat_with_sizes(base, nonce, struct.pack(">q", timestamp), ephemeral_public_key, associated_data)


@dataclass
class EnvelopeKey:
    enc: bytes
    mac: bytes
    iv: bytes
    ephemeral_public_key: bytes

    @classmethod
    def derive(cls, shared_secret: bytes, sh1: bytes, ephemeral_public_key: bytes) -> "EnvelopeKey":
        key = kdf_x963_sha256(shared_secret, sh1 + ephemeral_public_key, 48)
        return cls(key[:16], key[16:32], key[32:48], ephemeral_public_key)

    def iv_for(self, nonce: bytes) -> bytes:
        if len(nonce) != 16:
            raise PowerAuthError("ECIES nonce must be 16 bytes")
        return kdf_internal(self.iv, nonce)


class EciesEncryptor:
    """The client side of one ECIES request/response cycle.

    scope "application": public key = master server public key (or the app-scope temporary key in 3.3),
    SH2 base = SHA-256(appSecret); scope "activation": public key = KEY_SERVER_PUBLIC (or the activation
    temporary key), SH2 base = HMAC(KEY_TRANSPORT, appSecret), AD includes the activation id.
    """

    def __init__(self, version: str, public_key: bytes, sh1: str, app_key: str, app_secret: str,
                 activation_id: Optional[str] = None, transport_key: Optional[bytes] = None,
                 temporary_key_id: Optional[str] = None, compressed_ephemeral: bool = True):
        if version not in SUPPORTED_VERSIONS:
            raise PowerAuthError(f"unsupported protocol version {version}")
        if (activation_id is None) != (transport_key is None):
            raise PowerAuthError("activation scope needs both the activation id and the transport key")
        self.version = version
        self.public_key = public_key
        self.sh1 = ecies_shared_info1(sh1, version)
        self.sh2_base = ecies_shared_info2_base(app_secret, transport_key)
        self.associated_data = ecies_associated_data(version, app_key, activation_id, temporary_key_id)
        self.temporary_key_id = temporary_key_id
        self.compressed_ephemeral = compressed_ephemeral
        self.envelope: Optional[EnvelopeKey] = None
        self.request_nonce: Optional[bytes] = None

    def encrypt_request(self, plaintext: bytes, *, ephemeral_private_key=None, nonce: Optional[bytes] = None,
                        timestamp: Optional[int] = None) -> dict:
        ephemeral = ephemeral_private_key or generate_key_pair()
        ephemeral_public = public_key_bytes(ephemeral.public_key(), compressed=self.compressed_ephemeral)
        envelope = EnvelopeKey.derive(ecdh(ephemeral, self.public_key), self.sh1, ephemeral_public)
        nonce = os.urandom(16) if nonce is None else nonce
        if self.version != "3.1" and timestamp is None:
            timestamp = int(time.time() * 1000)
        sh2 = ecies_shared_info2(self.version, self.sh2_base, nonce, timestamp, ephemeral_public, self.associated_data)
        encrypted = aes_cbc_encrypt(envelope.enc, envelope.iv_for(nonce), plaintext)
        mac = hmac_sha256(envelope.mac, encrypted + sh2)
        self.envelope = envelope
        self.request_nonce = nonce
        payload = {}
        if self.version == "3.3":
            payload["temporaryKeyId"] = self.temporary_key_id
        payload.update({
            "ephemeralPublicKey": b64e(ephemeral_public),
            "encryptedData": b64e(encrypted),
            "mac": b64e(mac),
            "nonce": b64e(nonce),
        })
        if self.version != "3.1":
            payload["timestamp"] = timestamp
        return payload

    def encrypt_json(self, obj) -> dict:
        return self.encrypt_request(json.dumps(obj, separators=(",", ":")).encode("utf-8"))

    def decrypt_response(self, response: dict) -> bytes:
        """Checks the MAC, then decrypts. 3.1 reuses the request nonce; 3.2+ carry nonce and timestamp."""
        if self.envelope is None:
            raise PowerAuthError("no request was encrypted with this encryptor")
        if not isinstance(response, dict) or "encryptedData" not in response or "mac" not in response:
            raise PowerAuthError(f"not an ECIES response: {response!r}")
        encrypted = b64d(response["encryptedData"])
        mac = b64d(response["mac"])
        if self.version == "3.1":
            nonce, timestamp = self.request_nonce, None
        else:
            if "nonce" not in response or "timestamp" not in response:
                raise PowerAuthError(f"protocol {self.version} response lacks nonce or timestamp: {response!r}")
            nonce, timestamp = b64d(response["nonce"]), int(response["timestamp"])
        sh2 = ecies_shared_info2(self.version, self.sh2_base, nonce, timestamp, None, self.associated_data)
        if not hmac.compare_digest(hmac_sha256(self.envelope.mac, encrypted + sh2), mac):
            raise PowerAuthError("ECIES response MAC does not verify")
        return aes_cbc_decrypt(self.envelope.enc, self.envelope.iv_for(nonce), encrypted)

    def decrypt_json(self, response: dict):
        return json.loads(self.decrypt_response(response))


class EciesDecryptor:
    """The server side, used only to check this client against published cryptograms."""

    def __init__(self, version: str, private_key: ec.EllipticCurvePrivateKey, sh1: str, app_key: str,
                 app_secret: str, activation_id: Optional[str] = None, transport_key: Optional[bytes] = None,
                 temporary_key_id: Optional[str] = None):
        self.version = version
        self.private_key = private_key
        self.sh1 = ecies_shared_info1(sh1, version)
        self.sh2_base = ecies_shared_info2_base(app_secret, transport_key)
        self.associated_data = ecies_associated_data(version, app_key, activation_id, temporary_key_id)
        self.envelope: Optional[EnvelopeKey] = None
        self.request_nonce: Optional[bytes] = None

    def decrypt_request(self, request: dict) -> bytes:
        ephemeral = b64d(request["ephemeralPublicKey"])
        envelope = EnvelopeKey.derive(ecdh(self.private_key, ephemeral), self.sh1, ephemeral)
        nonce = b64d(request["nonce"])
        timestamp = request.get("timestamp")
        if self.version != "3.1" and not isinstance(timestamp, int):
            raise PowerAuthError(f"protocol {self.version} request lacks a timestamp")
        sh2 = ecies_shared_info2(self.version, self.sh2_base, nonce, timestamp, ephemeral, self.associated_data)
        encrypted = b64d(request["encryptedData"])
        if not hmac.compare_digest(hmac_sha256(envelope.mac, encrypted + sh2), b64d(request["mac"])):
            raise PowerAuthError("ECIES request MAC does not verify")
        self.envelope, self.request_nonce = envelope, nonce
        return aes_cbc_decrypt(envelope.enc, envelope.iv_for(nonce), encrypted)

    def encrypt_response(self, plaintext: bytes, nonce: Optional[bytes] = None, timestamp: Optional[int] = None) -> dict:
        if self.version == "3.1":
            nonce, timestamp = self.request_nonce, None
        else:
            nonce = os.urandom(16) if nonce is None else nonce
            timestamp = int(time.time() * 1000) if timestamp is None else timestamp
        sh2 = ecies_shared_info2(self.version, self.sh2_base, nonce, timestamp, None, self.associated_data)
        encrypted = aes_cbc_encrypt(self.envelope.enc, self.envelope.iv_for(nonce), plaintext)
        out = {"encryptedData": b64e(encrypted), "mac": b64e(hmac_sha256(self.envelope.mac, encrypted + sh2))}
        if self.version != "3.1":
            out.update({"nonce": b64e(nonce), "timestamp": timestamp})
        return out


def encryption_header(version: str, app_key: str, activation_id: Optional[str] = None) -> str:
    value = f'PowerAuth version="{version}", application_key="{app_key}"'
    if activation_id is not None:
        value += f', activation_id="{activation_id}"'
    return value


# --------------------------------------------------------------------------------------------------
# Temporary keys (protocol 3.3, Temporary-Encryption-Keys.md of 3.3)
# --------------------------------------------------------------------------------------------------

def temporary_key_request_jwt(signing_key: bytes, app_key: str, challenge: str,
                              activation_id: Optional[str] = None) -> str:
    """HS256 JWT {applicationKey, [activationId], challenge}; header {"alg":"HS256","typ":"JWT"} like the SDK."""
    header = b64url_e(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"applicationKey": app_key}
    if activation_id is not None:
        claims["activationId"] = activation_id
    claims["challenge"] = challenge
    payload = b64url_e(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}"
    return f"{signing_input}.{b64url_e(hmac_sha256(signing_key, signing_input.encode('ascii')))}"


def verify_temporary_key_response_jwt(jwt: str, server_public_key) -> dict:
    """Checks the ES256 signature (JOSE r||s) and returns the claims."""
    parts = jwt.split(".")
    if len(parts) != 3 or not all(parts):
        raise PowerAuthError(f"temporary key response is not a JWS compact string: {jwt[:80]!r}")
    header = json.loads(b64url_d(parts[0]))
    if header.get("alg") != "ES256":
        raise PowerAuthError(f"temporary key response JWT alg is {header.get('alg')!r}, expected ES256")
    if not ecdsa_verify_jose(server_public_key, f"{parts[0]}.{parts[1]}".encode("ascii"), b64url_d(parts[2])):
        raise PowerAuthError("temporary key response JWT signature does not verify")
    return json.loads(b64url_d(parts[1]))


@dataclass
class TemporaryKey:
    key_id: str
    public_key: bytes
    expires_ms: Optional[int]
    claims: dict


# --------------------------------------------------------------------------------------------------
# Transport and the phone
# --------------------------------------------------------------------------------------------------

class Transport:
    """POSTs exact bytes (a signature covers them) and returns the `requests` response."""

    def __init__(self, base_url: str, prefix: str = "/enrollment-server", session=None, timeout: float = 30.0):
        import requests  # only the transport needs it

        self.base_url = base_url.rstrip("/")
        self.prefix = prefix
        self.session = session or requests.Session()
        self.timeout = timeout

    def post(self, path: str, body: bytes, headers: Optional[dict] = None):
        all_headers = {"Content-Type": "application/json", "Accept": "application/json"}
        all_headers.update(headers or {})
        return self.session.post(self.base_url + self.prefix + path, data=body, headers=all_headers,
                                 timeout=self.timeout)


def _json_bytes(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


@dataclass
class PendingActivation:
    """One prepared `/pa/v3/activation/create` request, kept so that a test can tamper with it."""
    headers: dict
    body: dict
    device_private_key: ec.EllipticCurvePrivateKey
    layer1: EciesEncryptor
    layer2: EciesEncryptor
    layer2_plaintext: dict

    def body_bytes(self) -> bytes:
        return _json_bytes(self.body)


@dataclass
class PowerAuthPhone:
    """An activation's state as the PowerAuth mobile SDK keeps it, plus the enrollment calls.

    `transport` may be None for pure crypto use.
    """
    app_key: str
    app_secret: str
    master_public_key: bytes
    version: str = "3.1"
    transport: Optional[Transport] = None
    compressed_keys: bool = True  # the SDK exports P-256 points compressed

    device_private_key: Optional[ec.EllipticCurvePrivateKey] = None
    server_public_key: Optional[bytes] = None
    activation_id: Optional[str] = None
    keys: dict = field(default_factory=dict)
    ctr_data: Optional[bytes] = None
    counter: int = 0
    ctr_history: list = field(default_factory=list)  # earlier CTR_DATA values, newest last
    activation_fingerprint: Optional[str] = None
    temporary_keys: dict = field(default_factory=dict)  # scope -> TemporaryKey
    last_custom_attributes: Optional[dict] = None

    def __post_init__(self):
        if self.version not in SUPPORTED_VERSIONS:
            raise PowerAuthError(f"unsupported protocol version {self.version}")
        if isinstance(self.master_public_key, str):
            self.master_public_key = b64d(self.master_public_key)

    # ---- state ---------------------------------------------------------------------------------

    @property
    def is_activated(self) -> bool:
        return self.activation_id is not None and self.ctr_data is not None

    def device_public_key(self) -> bytes:
        return public_key_bytes(self.device_private_key, compressed=self.compressed_keys)

    def _require_transport(self) -> Transport:
        if self.transport is None:
            raise PowerAuthError("this phone has no transport")
        return self.transport

    def _require_activation(self):
        if not self.is_activated:
            raise PowerAuthError("the phone has no activation")

    # ---- temporary keys (3.3) ------------------------------------------------------------------

    def fetch_temporary_key(self, scope: str) -> TemporaryKey:
        """POST /pa/v3/keystore/create {requestObject: {jwt}} -> {responseObject: {jwt}} (3.3)."""
        if scope == "application":
            signing_key, activation_id, verify_key = b64d(self.app_secret), None, self.master_public_key
        elif scope == "activation":
            self._require_activation()
            signing_key = kdf_internal(self.keys["transport"], b64d(self.app_secret))
            activation_id, verify_key = self.activation_id, self.server_public_key
        else:
            raise ValueError(scope)
        challenge = b64e(os.urandom(18))
        jwt = temporary_key_request_jwt(signing_key, self.app_key, challenge, activation_id)
        response = self._require_transport().post("/pa/v3/keystore/create", _json_bytes({"requestObject": {"jwt": jwt}}))
        if response.status_code != 200:
            raise PowerAuthHttpError("keystore/create", response)
        answer = response.json()
        if answer.get("status") != "OK" or "jwt" not in (answer.get("responseObject") or {}):
            raise PowerAuthError(f"keystore/create answered {answer!r}")
        claims = verify_temporary_key_response_jwt(answer["responseObject"]["jwt"], verify_key)
        if claims.get("challenge") != challenge or claims.get("applicationKey") != self.app_key:
            raise PowerAuthError(f"temporary key response does not match the request: {claims!r}")
        if activation_id is not None and claims.get("activationId") != activation_id:
            raise PowerAuthError(f"temporary key response has the wrong activation id: {claims!r}")
        if not claims.get("sub") or not claims.get("publicKey"):
            raise PowerAuthError(f"temporary key response lacks sub or publicKey: {claims!r}")
        expires = claims.get("exp_ms") or (claims["exp"] * 1000 if "exp" in claims else None)
        key = TemporaryKey(claims["sub"], b64d(claims["publicKey"]), expires, claims)
        public_key_from_bytes(key.public_key)
        self.temporary_keys[scope] = key
        return key

    def _temporary_key(self, scope: str) -> TemporaryKey:
        key = self.temporary_keys.get(scope)
        if key is None or (key.expires_ms is not None and key.expires_ms - 10_000 < time.time() * 1000):
            key = self.fetch_temporary_key(scope)
        return key

    # ---- encryptors ----------------------------------------------------------------------------

    def application_encryptor(self, sh1: str) -> EciesEncryptor:
        public_key, temp_id = self.master_public_key, None
        if self.version == "3.3":
            temp = self._temporary_key("application")
            public_key, temp_id = temp.public_key, temp.key_id
        return EciesEncryptor(self.version, public_key, sh1, self.app_key, self.app_secret,
                              temporary_key_id=temp_id, compressed_ephemeral=self.compressed_keys)

    def activation_encryptor(self, sh1: str) -> EciesEncryptor:
        self._require_activation()
        public_key, temp_id = self.server_public_key, None
        if self.version == "3.3":
            temp = self._temporary_key("activation")
            public_key, temp_id = temp.public_key, temp.key_id
        return EciesEncryptor(self.version, public_key, sh1, self.app_key, self.app_secret,
                              activation_id=self.activation_id, transport_key=self.keys["transport"],
                              temporary_key_id=temp_id, compressed_ephemeral=self.compressed_keys)

    # ---- activation ----------------------------------------------------------------------------

    def prepare_activation(self, code: str, otp: Optional[str] = None, name: str = "Conformance phone",
                           platform: str = "ios", device_info: str = "iPhone15,2",
                           extras: Optional[str] = None, custom_attributes: Optional[dict] = None) -> PendingActivation:
        """Builds the two-layer request of `/pa/v3/activation/create` (Standard-RESTful-API.md, 3.x)."""
        device = generate_key_pair()
        layer2_plain = {
            "devicePublicKey": b64e(public_key_bytes(device, compressed=self.compressed_keys)),
            "activationName": name,
            "platform": platform,
            "deviceInfo": device_info,
        }
        if extras is not None:
            layer2_plain["extras"] = extras
        if otp is not None:
            layer2_plain["activationOtp"] = otp
        layer2 = self.application_encryptor(SH1_ACTIVATION_LAYER_2)
        layer1_plain = {
            "type": "CODE",
            "identityAttributes": {"code": code},
            "customAttributes": custom_attributes or {},
            "activationData": layer2.encrypt_json(layer2_plain),
        }
        layer1 = self.application_encryptor(SH1_ACTIVATION_LAYER_1)
        body = layer1.encrypt_json(layer1_plain)
        headers = {"X-PowerAuth-Encryption": encryption_header(self.version, self.app_key)}
        return PendingActivation(headers, body, device, layer1, layer2, layer2_plain)

    def complete_activation(self, pending: PendingActivation, response_body: dict) -> dict:
        """Decrypts both layers, runs ECDH and the KDF, computes the fingerprint, stores the state."""
        layer1 = pending.layer1.decrypt_json(response_body)
        if "activationData" not in layer1:
            raise PowerAuthError(f"layer 1 response lacks activationData: {layer1!r}")
        layer2 = pending.layer2.decrypt_json(layer1["activationData"])
        for name in ("activationId", "serverPublicKey", "ctrData"):
            if not layer2.get(name):
                raise PowerAuthError(f"layer 2 response lacks {name}: {layer2!r}")
        server_public = b64d(layer2["serverPublicKey"])
        public_key_from_bytes(server_public)
        ctr_data = b64d(layer2["ctrData"])
        if len(ctr_data) != 16:
            raise PowerAuthError(f"ctrData is {len(ctr_data)} bytes, expected 16")
        self.device_private_key = pending.device_private_key
        self.server_public_key = server_public
        self.activation_id = layer2["activationId"]
        self.keys = derive_activation_keys(master_secret(self.device_private_key, server_public))
        self.ctr_data = ctr_data
        self.counter = 0
        self.ctr_history = []
        self.activation_fingerprint = fingerprint(self.device_private_key, self.activation_id, server_public)
        self.last_custom_attributes = layer1.get("customAttributes")
        self.temporary_keys.pop("activation", None)
        return {"activationId": self.activation_id, "fingerprint": self.activation_fingerprint,
                "layer1": layer1, "layer2": layer2}

    def activate(self, code: str, otp: Optional[str] = None, name: str = "Conformance phone",
                 platform: str = "ios", device_info: str = "iPhone15,2", extras: Optional[str] = None,
                 custom_attributes: Optional[dict] = None) -> dict:
        pending = self.prepare_activation(code, otp, name, platform, device_info, extras, custom_attributes)
        response = self._require_transport().post("/pa/v3/activation/create", pending.body_bytes(), pending.headers)
        if response.status_code != 200:
            raise PowerAuthHttpError("activation/create", response)
        return self.complete_activation(pending, response.json())

    # ---- signatures ----------------------------------------------------------------------------

    def factor_keys(self, factors: Iterable[str], overrides: Optional[dict] = None) -> list:
        overrides = overrides or {}
        return [overrides.get(f, self.keys.get(f)) for f in factors]

    @staticmethod
    def signature_type(factors: Iterable[str]) -> str:
        factors = tuple(factors)
        for name, order in SIGNATURE_TYPES.items():
            if order == factors:
                return name
        raise ValueError(f"no PowerAuth signature type has the factors {factors}")

    def sign(self, method: str, uri_id: str, body: bytes = b"", factors: Sequence[str] = ("possession", "knowledge"),
             knowledge_key: Optional[bytes] = None, biometry_key: Optional[bytes] = None,
             possession_key: Optional[bytes] = None, nonce: Optional[bytes] = None, advance: bool = True) -> str:
        """The `X-PowerAuth-Authorization` value; CTR_DATA moves on after each signature like in the SDK.

        `knowledge_key` replaces the knowledge factor key (a wrong PIN yields a wrong key); likewise
        `biometry_key` and `possession_key` (another device's keys).
        """
        self._require_activation()
        factors = tuple(factors)
        signature_type = self.signature_type(factors)
        nonce = os.urandom(16) if nonce is None else nonce
        data = signature_base_string(method, uri_id, nonce, body, self.app_secret)
        overrides = {}
        if knowledge_key is not None:
            overrides["knowledge"] = knowledge_key
        if biometry_key is not None:
            overrides["biometry"] = biometry_key
        if possession_key is not None:
            overrides["possession"] = possession_key
        signature = online_signature(self.factor_keys(factors, overrides), self.ctr_data, data)
        header = authorization_header(self.activation_id, self.app_key, nonce, signature_type, signature, self.version)
        if advance:
            self.skip_counter(1)
        return header

    def skip_counter(self, steps: int = 1):
        for _ in range(steps):
            self.ctr_history.append(self.ctr_data)
            self.ctr_history = self.ctr_history[-256:]
            self.ctr_data = next_ctr_data(self.ctr_data)
            self.counter += 1

    # ---- activation status ---------------------------------------------------------------------

    def status(self) -> dict:
        """POST /pa/v3/activation/status {requestObject: {activationId, challenge}}; decrypts the blob."""
        self._require_activation()
        challenge = os.urandom(16)
        body = {"requestObject": {"activationId": self.activation_id, "challenge": b64e(challenge)}}
        response = self._require_transport().post("/pa/v3/activation/status", _json_bytes(body))
        if response.status_code != 200:
            raise PowerAuthHttpError("activation/status", response)
        answer = response.json()
        obj = answer.get("responseObject") or {}
        if answer.get("status") != "OK" or "encryptedStatusBlob" not in obj or "nonce" not in obj:
            raise PowerAuthError(f"activation/status answered {answer!r}")
        if obj.get("activationId") not in (None, self.activation_id):
            raise PowerAuthError(f"activation/status is about {obj.get('activationId')}, not {self.activation_id}")
        info = decrypt_status_blob(self.keys["transport"], challenge, b64d(obj["nonce"]),
                                   b64d(obj["encryptedStatusBlob"]))
        info["customObject"] = obj.get("customObject")
        info["counterDistance"] = counter_distance(self.keys["transport"], self.ctr_data, info["ctrDataHash"],
                                                   max(info["ctrLookAhead"], 20))
        info["ctrDataHashMatchesPhone"] = hmac.compare_digest(
            ctr_data_hash(self.keys["transport"], self.ctr_data), info["ctrDataHash"])
        info["serverBehindBy"] = None
        for back, old in enumerate(reversed(self.ctr_history), start=1):
            if hmac.compare_digest(ctr_data_hash(self.keys["transport"], old), info["ctrDataHash"]):
                info["serverBehindBy"] = back
                break
        if info["ctrDataHashMatchesPhone"]:
            info["serverBehindBy"] = 0
        return info

    # ---- signed calls --------------------------------------------------------------------------

    def _signed_post(self, path: str, uri_id: str, body: bytes, factors: Sequence[str], **sign_args):
        header = self.sign("POST", uri_id, body, factors, **sign_args)
        return self._require_transport().post(path, body, {"X-PowerAuth-Authorization": header})

    def validate_signature(self, body: bytes = b"{}", factors: Sequence[str] = ("possession", "knowledge"),
                           **sign_args):
        """POST /pa/v3/signature/validate signed with uriId /pa/signature/validate; returns the response."""
        return self._signed_post("/pa/v3/signature/validate", "/pa/signature/validate", body, factors, **sign_args)

    def remove(self, factors: Sequence[str] = ("possession", "knowledge"), **sign_args) -> dict:
        """POST /pa/v3/activation/remove signed with uriId /pa/activation/remove."""
        response = self._signed_post("/pa/v3/activation/remove", "/pa/activation/remove", b"{}", factors, **sign_args)
        if response.status_code != 200:
            raise PowerAuthHttpError("activation/remove", response)
        return response.json()

    def create_token(self, factors: Sequence[str] = ("possession", "knowledge"), **sign_args) -> tuple:
        """POST /pa/v3/token/create: ECIES (activation scope, sh1 /pa/token/create) over `{}`, then the
        signature (uriId /pa/token/create) over the encrypted body (encrypt-then-sign); no
        X-PowerAuth-Encryption header because the signature header carries the context."""
        encryptor = self.activation_encryptor(SH1_TOKEN_CREATE)
        body = _json_bytes(encryptor.encrypt_request(b"{}"))
        response = self._signed_post("/pa/v3/token/create", "/pa/token/create", body, factors, **sign_args)
        if response.status_code != 200:
            raise PowerAuthHttpError("token/create", response)
        answer = encryptor.decrypt_json(response.json())
        if isinstance(answer, dict) and "responseObject" in answer and "tokenId" not in answer:
            answer = answer["responseObject"]
        if not answer.get("tokenId") or not answer.get("tokenSecret"):
            raise PowerAuthError(f"token/create decrypted to {answer!r}")
        secret = b64d(answer["tokenSecret"])
        if len(secret) != 16:
            raise PowerAuthError(f"token secret is {len(secret)} bytes, expected 16")
        return answer["tokenId"], secret

    def token_header(self, token_id: str, token_secret: bytes, nonce: Optional[bytes] = None,
                     timestamp_ms: Optional[int] = None) -> str:
        return token_header_value(token_id, token_secret, self.version, nonce, timestamp_ms)

    def remove_token(self, token_id: str, factors: Sequence[str] = ("possession",), **sign_args) -> dict:
        """POST /pa/v3/token/remove {requestObject: {tokenId}} signed with uriId /pa/token/remove."""
        body = _json_bytes({"requestObject": {"tokenId": token_id}})
        response = self._signed_post("/pa/v3/token/remove", "/pa/token/remove", body, factors, **sign_args)
        if response.status_code != 200:
            raise PowerAuthHttpError("token/remove", response)
        return response.json()

    def vault_unlock_request(self, reason: Optional[str] = "NOT_SPECIFIED",
                             factors: Sequence[str] = ("possession", "knowledge"), plaintext: Optional[bytes] = None,
                             **sign_args) -> tuple:
        """The body, signature header and encryptor of a POST /pa/v3/vault/unlock: ECIES (activation
        scope, sh1 /pa/vault/unlock) over `{"reason"}`, then the signature (uriId /pa/vault/unlock)
        over the encrypted body (encrypt-then-sign), as the SDKs send it."""
        encryptor = self.activation_encryptor(SH1_VAULT_UNLOCK)
        if plaintext is None:
            plaintext = _json_bytes({} if reason is None else {"reason": reason})
        body = _json_bytes(encryptor.encrypt_request(plaintext))
        header = self.sign("POST", "/pa/vault/unlock", body, factors, **sign_args)
        return body, header, encryptor

    def decrypt_vault_key(self, encryptor: "EciesEncryptor", response) -> bytes:
        """KEY_ENCRYPTION_VAULT from a vault/unlock answer: the ECIES envelope, then AES-CBC with a
        zero IV and PKCS#7 under KEY_TRANSPORT (PowerAuthServerVault.encryptVaultEncryptionKey)."""
        if response.status_code != 200:
            raise PowerAuthHttpError("vault/unlock", response)
        answer = encryptor.decrypt_json(response.json())
        if answer.get("signatureValid") is not True or not answer.get("encryptedVaultEncryptionKey"):
            raise PowerAuthError(f"vault/unlock decrypted to {answer!r}")
        encrypted = b64d(answer["encryptedVaultEncryptionKey"])
        if len(encrypted) != 32:
            raise PowerAuthError(f"encryptedVaultEncryptionKey is {len(encrypted)} bytes, expected 32")
        return aes_cbc_decrypt(self.keys["transport"], bytes(16), encrypted)

    def unlock_vault(self, reason: Optional[str] = "NOT_SPECIFIED", factors: Sequence[str] = ("possession", "knowledge"),
                     **sign_args) -> bytes:
        """POST /pa/v3/vault/unlock; returns KEY_ENCRYPTION_VAULT as the server sent it."""
        body, header, encryptor = self.vault_unlock_request(reason, factors, **sign_args)
        response = self._require_transport().post("/pa/v3/vault/unlock", body, {"X-PowerAuth-Authorization": header})
        return self.decrypt_vault_key(encryptor, response)
