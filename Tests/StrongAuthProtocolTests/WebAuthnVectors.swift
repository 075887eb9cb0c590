/// WebAuthn registrations and assertions made by an independent implementation.
///
/// Made once with the Python script below (Python 3.11, `cryptography` 50.0.2, `cbor2` 6.3.0,
/// `webauthn` 3.0.1 = py_webauthn by Duo Labs, a one-off `.venv/bin/pip install webauthn`): a
/// software authenticator signs with fresh P-256, RSA-2048 and Ed25519 keys, and every response
/// printed here was first accepted by py_webauthn's `verify_registration_response` /
/// `verify_authentication_response` with the same rpID, origin, challenge and counter the Swift
/// tests use. rpID `bank.example`, origin `https://bank.example`, challenge bytes 0…31.
/// Assertions by ES256 come from the key of the ES256 registrations (both share one key);
/// RS256 and EdDSA assertions from the packed registrations of those algorithms.
///
/// ```python
/// # Generates WebAuthn test vectors: a software authenticator built on `cryptography` + `cbor2`,
/// # every response checked by py_webauthn 3.0.1 (Duo Labs, an independent relying-party implementation).
/// import base64, hashlib, json, os, struct, sys
/// import cbor2
/// from cryptography.hazmat.primitives import hashes
/// from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
/// from webauthn import verify_authentication_response, verify_registration_response
/// from webauthn.helpers import parse_authentication_credential_json, parse_registration_credential_json
///
/// RP_ID, ORIGIN = "bank.example", "https://bank.example"
/// CHALLENGE = bytes(range(32))
/// UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
///
/// def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
/// def ui(n, w): return n.to_bytes(w, "big")
///
/// def cose(key):
///     if isinstance(key, ec.EllipticCurvePrivateKey):
///         n = key.public_key().public_numbers()
///         return {1: 2, 3: -7, -1: 1, -2: ui(n.x, 32), -3: ui(n.y, 32)}
///     if isinstance(key, rsa.RSAPrivateKey):
///         n = key.public_key().public_numbers()
///         return {1: 3, 3: -257, -1: ui(n.n, 256), -2: ui(n.e, 3)}
///     raw = key.public_key().public_bytes_raw()
///     return {1: 1, 3: -8, -1: 6, -2: raw}
///
/// def sign(key, data):
///     if isinstance(key, ec.EllipticCurvePrivateKey): return key.sign(data, ec.ECDSA(hashes.SHA256()))
///     if isinstance(key, rsa.RSAPrivateKey): return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
///     return key.sign(data)
///
/// def client_data(typ): return json.dumps({"type": typ, "challenge": b64u(CHALLENGE), "origin": ORIGIN, "crossOrigin": False}, separators=(",", ":")).encode()
///
/// def register(key, cred_id, fmt, flags, count):
///     aaguid = bytes.fromhex("0123456789abcdef0123456789abcdef") if fmt == "packed" else bytes(16)
///     auth = hashlib.sha256(RP_ID.encode()).digest() + bytes([flags]) + struct.pack(">I", count)
///     auth += aaguid + struct.pack(">H", len(cred_id)) + cred_id + cbor2.dumps(cose(key), canonical=True)
///     cdj = client_data("webauthn.create")
///     stmt = {} if fmt == "none" else {"alg": cose(key)[3], "sig": sign(key, auth + hashlib.sha256(cdj).digest())}
///     att = cbor2.dumps({"fmt": fmt, "attStmt": stmt, "authData": auth}, canonical=True)
///     cred = {"id": b64u(cred_id), "rawId": b64u(cred_id), "type": "public-key",
///             "response": {"clientDataJSON": b64u(cdj), "attestationObject": b64u(att)}}
///     v = verify_registration_response(credential=parse_registration_credential_json(json.dumps(cred)), expected_challenge=CHALLENGE,
///                                      expected_origin=ORIGIN, expected_rp_id=RP_ID, require_user_verification=bool(flags & UV))
///     return cred, v
///
/// def assert_(key, cred_id, public_key, flags, count, stored):
///     auth = hashlib.sha256(RP_ID.encode()).digest() + bytes([flags]) + struct.pack(">I", count)
///     cdj = client_data("webauthn.get")
///     sig = sign(key, auth + hashlib.sha256(cdj).digest())
///     cred = {"id": b64u(cred_id), "rawId": b64u(cred_id), "type": "public-key",
///             "response": {"clientDataJSON": b64u(cdj), "authenticatorData": b64u(auth), "signature": b64u(sig)}}
///     v = verify_authentication_response(credential=parse_authentication_credential_json(json.dumps(cred)), expected_challenge=CHALLENGE,
///                                        expected_rp_id=RP_ID, expected_origin=ORIGIN, credential_public_key=public_key,
///                                        credential_current_sign_count=stored, require_user_verification=bool(flags & UV))
///     return cred, v
///
/// keys = {"es256": ec.generate_private_key(ec.SECP256R1()), "rs256": rsa.generate_private_key(65537, 2048),
///         "eddsa": ed25519.Ed25519PrivateKey.generate()}
/// out = []
/// def emit(name, fields):
///     out.append(f"    static let {name} = Vector(")
///     out.append(",\n".join(f'        {k}: "{v}"' for k, v in fields.items()) + ")")
///
/// regs = {}
/// for name, fmt, alg, flags, count in [("registrationNoneES256", "none", "es256", UP | UV | BE | BS | AT, 0),
///                                      ("registrationPackedES256", "packed", "es256", UP | UV | AT, 1),
///                                      ("registrationPackedRS256", "packed", "rs256", UP | UV | AT, 0),
///                                      ("registrationPackedEdDSA", "packed", "eddsa", UP | UV | BE | AT, 2),
///                                      ("registrationNoneWithoutUV", "none", "es256", UP | AT, 0)]:
///     cred_id = os.urandom(16 if alg != "rs256" else 32)
///     cred, v = register(keys[alg], cred_id, fmt, flags, count)
///     regs[alg] = (cred_id, v.credential_public_key)
///     emit(name, {"credentialID": cred["id"], "attestationObject": cred["response"]["attestationObject"],
///                 "clientDataJSON": cred["response"]["clientDataJSON"], "credentialPublicKey": b64u(v.credential_public_key)})
///
/// for name, alg, flags, count, stored in [("assertionES256", "es256", UP | UV, 5, 1), ("assertionES256WithoutUV", "es256", UP, 6, 1),
///                                         ("assertionRS256", "rs256", UP | UV, 0, 0), ("assertionEdDSA", "eddsa", UP | UV | BE, 3, 2)]:
///     cred_id, public_key = regs[alg]
///     cred, v = assert_(keys[alg], cred_id, public_key, flags, count, stored)
///     assert v.new_sign_count == count
///     emit(name, {"credentialID": cred["id"], "authenticatorData": cred["response"]["authenticatorData"],
///                 "clientDataJSON": cred["response"]["clientDataJSON"], "signature": cred["response"]["signature"],
///                 "credentialPublicKey": b64u(public_key)})
/// print("\n".join(out))
/// ```
///
/// Its output is pasted below with long strings split into `+`-joined pieces for the 150-column limit.
enum WebAuthnVectors {
    struct Vector {
        var credentialID: String
        var attestationObject: String = ""
        var authenticatorData: String = ""
        var clientDataJSON: String
        var signature: String = ""
        var credentialPublicKey: String
    }

    static let rpID = "bank.example"
    static let origin = "https://bank.example"
    static let challenge: [UInt8] = Array(0..<32)

    static let registrationNoneES256 = Vector(
        credentialID: "OP4Nqpm2MIJftQdug3dYKA",
        attestationObject:
            "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YViUBb5Vr1CMVVXYBtW9VJD14h2rmhAbiDZ_jR0GP4w7_D9dAAAAAAAAAAAAAAAAAAAAAAAAAA"
            + "AAEDj-DaqZtjCCX7UHboN3WCilAQIDJiABIVggvZ8CI-Kzf7-hSGUX40adA884AYIDufaZSBNlpnm8Hn8iWCDEJ6uTKXJugs4Ouk-TBU1e1gIS" + "vee4AbXhcGzN_t06ZA",
        clientDataJSON:
            "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOC"
            + "IsIm9yaWdpbiI6Imh0dHBzOi8vYmFuay5leGFtcGxlIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
        credentialPublicKey: "pQECAyYgASFYIL2fAiPis3-_oUhlF-NGnQPPOAGCA7n2mUgTZaZ5vB5_IlggxCerkylyboLODrpPkwVNXtYCEr3nuAG14XBszf7dOmQ")
    static let registrationPackedES256 = Vector(
        credentialID: "vu3TMDMlngC6COofcwzV0A",
        attestationObject:
            "o2NmbXRmcGFja2VkZ2F0dFN0bXSiY2FsZyZjc2lnWEcwRQIhAJPj4cpe1B9_-J5LhGVJksm68HGKCcsZFTwo2pWiZw8HAiA0Ep6fwSxGbsrpJb"
            + "hJh7y7WU9h5nlrVhEa2QnKajuA0mhhdXRoRGF0YViUBb5Vr1CMVVXYBtW9VJD14h2rmhAbiDZ_jR0GP4w7_D9FAAAAAQEjRWeJq83vASNFZ4mr"
            + "ze8AEL7t0zAzJZ4AugjqH3MM1dClAQIDJiABIVggvZ8CI-Kzf7-hSGUX40adA884AYIDufaZSBNlpnm8Hn8iWCDEJ6uTKXJugs4Ouk-TBU1e1g"
            + "ISvee4AbXhcGzN_t06ZA",
        clientDataJSON:
            "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOC"
            + "IsIm9yaWdpbiI6Imh0dHBzOi8vYmFuay5leGFtcGxlIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
        credentialPublicKey: "pQECAyYgASFYIL2fAiPis3-_oUhlF-NGnQPPOAGCA7n2mUgTZaZ5vB5_IlggxCerkylyboLODrpPkwVNXtYCEr3nuAG14XBszf7dOmQ")
    static let registrationPackedRS256 = Vector(
        credentialID: "DZbJjRu3hg8BgaH3ipSuRt3WDCwvpUwOgQquz9pgYnk",
        attestationObject:
            "o2NmbXRmcGFja2VkZ2F0dFN0bXSiY2FsZzkBAGNzaWdZAQCYtqSRwYTAPsqWtwosc5p6OEyQ-cMJD2Aw3WVRkHNe-u4RtR3F0JoFLuuuLO5Qwp"
            + "I7zbCBj2BFimlcNXpvdPlNTq0xb7XraQNX9voyiLVDGcLqcGCWQSw524bcTCicvsjWf02xIzJmSXcPtNABKDm0QeC7I12FQkl28Vz6LZHst-vU"
            + "9vuMw0xZ0-_14IJUIUP_bBYzOBw9vp_ZNGKPaTxVF7ac4T9Q9FdGE2ge90bACpSGsFmg1DoomHUPbGa6yd3a52PfUqdPdM5vsdZWbQUudXLZtY"
            + "V3CIYA6SRVJy_e9GCAzfLLVW-5iTCC0mSgYUvpnpilydv_Vcjk_mzOqyHMaGF1dGhEYXRhWQFnBb5Vr1CMVVXYBtW9VJD14h2rmhAbiDZ_jR0G"
            + "P4w7_D9FAAAAAAEjRWeJq83vASNFZ4mrze8AIA2WyY0bt4YPAYGh94qUrkbd1gwsL6VMDoEKrs_aYGJ5pAEDAzkBACBZAQC9XftAKz8YRvWSwv"
            + "VZEUUvV27T_xpR1osNZds_yRDSKDK3AJXa22QAVWt5rnFebOrESom3fr6A-MI2mB_KgwcwYYltuw2YnTi-XxRPvWUNV49rSgIHkjy1uQHwQ_Yb"
            + "L4SvwcxPwv7G7SkFZlXduMzajlOQCeZMcYPma83M9lTSfZLz2tzFwA9qFsIirbaM01zQFdDUiMb8_uGwJ08oMWi-3rdxNREeUck8ekkvkNxCrF"
            + "k8mKhT268FbPj84TO9kEZHS57ovPjLeaBwz2QV-aZjn73bDtIzZ-0Ii8stsFC0eyGxp8bC6eTbjEFs4qF9SPqJL5G9ajzdMZmq0cnWMVhLIUMB" + "AAE",
        clientDataJSON:
            "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOC"
            + "IsIm9yaWdpbiI6Imh0dHBzOi8vYmFuay5leGFtcGxlIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
        credentialPublicKey:
            "pAEDAzkBACBZAQC9XftAKz8YRvWSwvVZEUUvV27T_xpR1osNZds_yRDSKDK3AJXa22QAVWt5rnFebOrESom3fr6A-MI2mB_KgwcwYYltuw2YnT"
            + "i-XxRPvWUNV49rSgIHkjy1uQHwQ_YbL4SvwcxPwv7G7SkFZlXduMzajlOQCeZMcYPma83M9lTSfZLz2tzFwA9qFsIirbaM01zQFdDUiMb8_uGw"
            + "J08oMWi-3rdxNREeUck8ekkvkNxCrFk8mKhT268FbPj84TO9kEZHS57ovPjLeaBwz2QV-aZjn73bDtIzZ-0Ii8stsFC0eyGxp8bC6eTbjEFs4q"
            + "F9SPqJL5G9ajzdMZmq0cnWMVhLIUMBAAE")
    static let registrationPackedEdDSA = Vector(
        credentialID: "LA0GCAJoujgMd5dgJjM3Rw",
        attestationObject:
            "o2NmbXRmcGFja2VkZ2F0dFN0bXSiY2FsZydjc2lnWEAE6ox-jooBD_xwxn1WPiDS7aTcikdaJjT4XVAjcBHL2J4FbjSRNl0VnBOgG4RH0-DMnv"
            + "CV2GmNUQSsJkdgeoYKaGF1dGhEYXRhWHEFvlWvUIxVVdgG1b1UkPXiHauaEBuINn-NHQY_jDv8P00AAAACASNFZ4mrze8BI0VniavN7wAQLA0G"
            + "CAJoujgMd5dgJjM3R6QBAQMnIAYhWCDpWiyrDZpnLnXHBSxQpRlkL-9E4vZ1Odw4pztiJ0D-RQ",
        clientDataJSON:
            "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOC"
            + "IsIm9yaWdpbiI6Imh0dHBzOi8vYmFuay5leGFtcGxlIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
        credentialPublicKey: "pAEBAycgBiFYIOlaLKsNmmcudccFLFClGWQv70Ti9nU53DinO2InQP5F")
    static let registrationNoneWithoutUV = Vector(
        credentialID: "MOAf25EBljJ8ztGMFIzVLA",
        attestationObject:
            "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YViUBb5Vr1CMVVXYBtW9VJD14h2rmhAbiDZ_jR0GP4w7_D9BAAAAAAAAAAAAAAAAAAAAAAAAAA"
            + "AAEDDgH9uRAZYyfM7RjBSM1SylAQIDJiABIVggvZ8CI-Kzf7-hSGUX40adA884AYIDufaZSBNlpnm8Hn8iWCDEJ6uTKXJugs4Ouk-TBU1e1gIS" + "vee4AbXhcGzN_t06ZA",
        clientDataJSON:
            "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOC"
            + "IsIm9yaWdpbiI6Imh0dHBzOi8vYmFuay5leGFtcGxlIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
        credentialPublicKey: "pQECAyYgASFYIL2fAiPis3-_oUhlF-NGnQPPOAGCA7n2mUgTZaZ5vB5_IlggxCerkylyboLODrpPkwVNXtYCEr3nuAG14XBszf7dOmQ")
    static let assertionES256 = Vector(
        credentialID: "MOAf25EBljJ8ztGMFIzVLA",
        authenticatorData: "Bb5Vr1CMVVXYBtW9VJD14h2rmhAbiDZ_jR0GP4w7_D8FAAAABQ",
        clientDataJSON:
            "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOCIsIm"
            + "9yaWdpbiI6Imh0dHBzOi8vYmFuay5leGFtcGxlIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
        signature: "MEYCIQDNKWf8Sd72FsZM4dRHs6fWVQyR9kyMbInRf3ln9eiJmwIhANNWhdZn3l-n7UMog9KoisxANLAnUTbyA3b3MMfCO9l-",
        credentialPublicKey: "pQECAyYgASFYIL2fAiPis3-_oUhlF-NGnQPPOAGCA7n2mUgTZaZ5vB5_IlggxCerkylyboLODrpPkwVNXtYCEr3nuAG14XBszf7dOmQ")
    static let assertionES256WithoutUV = Vector(
        credentialID: "MOAf25EBljJ8ztGMFIzVLA",
        authenticatorData: "Bb5Vr1CMVVXYBtW9VJD14h2rmhAbiDZ_jR0GP4w7_D8BAAAABg",
        clientDataJSON:
            "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOCIsIm"
            + "9yaWdpbiI6Imh0dHBzOi8vYmFuay5leGFtcGxlIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
        signature: "MEUCIQCHQms9g0CXQGWpB_Hg9yvqRjucDF-gOiqZmicK9Nq2_AIgJJ0n-3bqp43gJR8ietvGUi1beLJAo9ywhTK5ZFqca4o",
        credentialPublicKey: "pQECAyYgASFYIL2fAiPis3-_oUhlF-NGnQPPOAGCA7n2mUgTZaZ5vB5_IlggxCerkylyboLODrpPkwVNXtYCEr3nuAG14XBszf7dOmQ")
    static let assertionRS256 = Vector(
        credentialID: "DZbJjRu3hg8BgaH3ipSuRt3WDCwvpUwOgQquz9pgYnk",
        authenticatorData: "Bb5Vr1CMVVXYBtW9VJD14h2rmhAbiDZ_jR0GP4w7_D8FAAAAAA",
        clientDataJSON:
            "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOCIsIm"
            + "9yaWdpbiI6Imh0dHBzOi8vYmFuay5leGFtcGxlIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
        signature:
            "PJToC8j6HWF567FglhtDHU4cFhVYk7xgoYeuLZ-rorreO-pJw0FDFO3OMsNXt8iB3ffW2DHrZLbhm4INnlv253vNp8_uF5YBubTTbwa4SRQANS"
            + "f1lqfFXUxe2YO3OX3HOBPoLEdRbD7uZJczMLJ8hImJQofmXrbe0EexcRjpHmCNKKTxYAqkgkESK-_pfaPtCXJaVtiTmCIS1Tg8OR52E8F_Fh_B"
            + "2Dz8hKWIz2dBScUCMXkryHo5JRu_Y08IO9j-s2WAACA5VKFBLepnJ9II9KImndU5rMEevAN7juyjTNSkinADbeYt8ya6D6o1ZnfeEJPbauuoQd" + "TtC6N-7Ijasw",
        credentialPublicKey:
            "pAEDAzkBACBZAQC9XftAKz8YRvWSwvVZEUUvV27T_xpR1osNZds_yRDSKDK3AJXa22QAVWt5rnFebOrESom3fr6A-MI2mB_KgwcwYYltuw2YnT"
            + "i-XxRPvWUNV49rSgIHkjy1uQHwQ_YbL4SvwcxPwv7G7SkFZlXduMzajlOQCeZMcYPma83M9lTSfZLz2tzFwA9qFsIirbaM01zQFdDUiMb8_uGw"
            + "J08oMWi-3rdxNREeUck8ekkvkNxCrFk8mKhT268FbPj84TO9kEZHS57ovPjLeaBwz2QV-aZjn73bDtIzZ-0Ii8stsFC0eyGxp8bC6eTbjEFs4q"
            + "F9SPqJL5G9ajzdMZmq0cnWMVhLIUMBAAE")
    static let assertionEdDSA = Vector(
        credentialID: "LA0GCAJoujgMd5dgJjM3Rw",
        authenticatorData: "Bb5Vr1CMVVXYBtW9VJD14h2rmhAbiDZ_jR0GP4w7_D8NAAAAAw",
        clientDataJSON:
            "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOCIsIm"
            + "9yaWdpbiI6Imh0dHBzOi8vYmFuay5leGFtcGxlIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
        signature: "blhdj5dqTd9NoakCkw_-YKbiGxv5dt67E7hDZTtuD9cX-jyKHYXeAjbUpo75gWEvzdpxOpVgpyjL7moSvgdqDw",
        credentialPublicKey: "pAEBAycgBiFYIOlaLKsNmmcudccFLFClGWQv70Ti9nU53DinO2InQP5F")
}
