"""ABN AMRO's challenge-response sessions (ABN AMRO login protocol, docs/sessions.md), driven the way the published
Python clients drive ABN AMRO: `requests.Session` keeps the cookie, and the SOFTTOKEN response is
computed here from the public description of the scheme alone — an own TLV codec (1-byte id,
2-byte big-endian length, value, ended by id 0) and RSA PKCS#1 v1.5 encryption with the
`cryptography` package under the modulus and exponent the challenge carries. Users come from the
CLI (`strongauth users create --account … --card … --identification-code …`)."""
import hashlib
import json
import secrets

import requests
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CODE = "24680"
SERVICE_V2 = {"x-aab-serviceversion": "v2"}
SERVICE_V4 = {"x-aab-serviceversion": "v4"}


# --- the scheme, from the public description -----------------------------------------------------

def tlv_decode(data: bytes) -> dict:
    fields, index = {}, 0
    while index < len(data):
        field_id, size = data[index], int.from_bytes(data[index + 1:index + 3], "big")
        fields[field_id] = data[index + 3:index + 3 + size]
        index += 3 + size
    return fields


def tlv_encode(fields: list) -> bytes:
    """Fields in the given order, then the terminator (id 0, empty) unless the list has it."""
    out = b""
    for field_id, value in fields:
        out += bytes([field_id]) + len(value).to_bytes(2, "big") + value
    if not fields or fields[-1][0] != 0:
        out += b"\x00\x00\x00"
    return out


def scenario_hash(name: str, data) -> bytes:
    """SHA-256 of "<name>\n<canonical JSON>" (sorted keys, no whitespace): what a scenario signs."""
    return hashlib.sha256(f"{name}\n{json.dumps(data, sort_keys=True, separators=(',', ':'))}".encode()).digest()


def solve(challenge: dict, code: str = CODE, sorted_fields: bool = False, scenario: bytes = None) -> str:
    """The response: RSA PKCS#1 v1.5 of {1: "1", 2: f2, 3: f3, 8: userId, 9: code, 0: ""} under
    the challenge's key. `sorted_fields` plays djc/abna (sorted, terminator appended); otherwise
    kinnay/ABN-Amro (insertion order, explicit field 0). A scenario's answer also contains field
    10, the hash of the scenario the client signs (`scenario`), which the challenge must carry."""
    fields = tlv_decode(bytes.fromhex(challenge["challenge"]))
    assert fields.get(10) == scenario, "the challenge is for another scenario (or none)"
    plain = [(1, b"1"), (2, fields[2]), (3, fields[3]), (8, challenge["userId"].encode()), (9, code.encode())]
    if scenario is not None:
        plain.append((10, scenario))
    payload = tlv_encode(sorted(plain) if sorted_fields else plain + [(0, b"")])
    key = rsa.RSAPublicNumbers(int.from_bytes(fields[5], "big"), int.from_bytes(fields[4], "big")).public_key()
    return key.encrypt(payload, padding.PKCS1v15()).hex()


# --- helpers ----------------------------------------------------------------------------------------

def login_user(server, code=CODE):
    """A user with a login identity; returns (account without leading zero, card)."""
    account = str(100_000_000 + secrets.randbelow(899_999_999))
    card = str(100 + secrets.randbelow(899))
    created = server.cli("users", "create", "--username", server.unique("abn"), "--account", account, "--card", card,
                         "--identification-code", code)
    assert created["loginUserId"] == f"0{account}_{card}", created
    assert created["softToken"] is True
    assert CODE not in str(created)
    return account, card


def get_challenge(server, browser, account, card, expect=200):
    # The account with its leading zero, as the IBAN's tail (djc/abna: iban[8:]), plus djc's extra appId.
    response = browser.get(server.url("/session/loginchallenge"), headers=SERVICE_V2,
                           params={"accountNumber": "0" + account, "cardNumber": card, "accessToolUsage": "SOFTTOKEN",
                                   "appId": "SIMPLE_BANKING"})
    assert response.status_code == expect, response.text
    return response.json().get("loginChallenge") if expect == 200 else response


def put_response(server, browser, account, card, challenge, response_hex):
    # kinnay/ABN-Amro's body: account and card as JSON numbers, every optional field present.
    return browser.put(server.url("/session/loginresponse"), headers=SERVICE_V4, json={
        "accountNumber": int(account), "cardNumber": int(card), "challengeHandle": challenge["challengeHandle"],
        "response": response_hex, "accessToolUsage": "SOFTTOKEN",
        "challengeDeviceDetails": challenge["challengeDeviceDetails"], "appId": "IPHONE_APP",
        "boundDeviceIndexNumber": 0, "isJailbrokenRooted": False, "isBound": False, "imei": "", "telephoneNo": ""})


# --- tests --------------------------------------------------------------------------------------------

def test_softtoken_login_session_and_logout(server):
    account, card = login_user(server)
    browser = requests.Session()
    assert browser.get(server.url("/session")).status_code == 401

    challenge = get_challenge(server, browser, account, card)
    assert challenge["userId"] == f"0{account}_{card}"
    assert challenge["attemptsLeft"] == 3
    assert challenge["challengeDeviceDetails"] == "/schemes/ATT_5_55/CH_1"
    assert challenge["challengeHandle"].isdigit()
    for field in ("eigChallenge", "eigChallengeHandle", "eigChallengeDeviceDetails", "eigType"):
        assert field in challenge and challenge[field] is None
    fields = tlv_decode(bytes.fromhex(challenge["challenge"]))
    assert sorted(fields) == [0, 2, 3, 4, 5]
    assert (len(fields[2]), len(fields[3]), len(fields[4]), fields[5], fields[0]) == (8, 4, 256, b"\x01\x00\x01", b"")
    cookie = next(c for c in browser.cookies if c.name == "strongauth_session")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/" and not cookie.secure  # plain http here

    answered = put_response(server, browser, account, card, challenge, solve(challenge))
    assert answered.status_code == 200, answered.text
    session = answered.json()["session"]
    assert session["deviceType"] == "SOFTTOKEN" and session["selectedCustomer"] is None
    assert session["lastLogonDate"] % 60_000 == 0
    assert "SameSite=Strict" in answered.headers["Set-Cookie"]

    current = browser.get(server.url("/session"))
    assert current.status_code == 200, current.text
    assert current.json() == {"session": {"lastLogonDate": session["lastLogonDate"]}}

    assert browser.delete(server.url("/session")).status_code == 204
    gone = browser.get(server.url("/session"))
    assert gone.status_code == 401
    assert gone.headers["Content-Type"] == "application/json"
    assert gone.json()["messages"][0]["messageType"] == "ERROR"


def test_djc_style_sorted_fields_log_in_too(server):
    account, card = login_user(server)
    browser = requests.Session()
    challenge = get_challenge(server, browser, account, card)
    answered = put_response(server, browser, account, card, challenge, solve(challenge, sorted_fields=True))
    assert answered.status_code == 200, answered.text


def test_wrong_codes_count_down_to_a_block_until_the_operator_unblocks(server):
    account, card = login_user(server)
    browser = requests.Session()
    challenges = [get_challenge(server, browser, account, card) for _ in range(4)]
    for index, left in enumerate([2, 1, 0]):
        wrong = put_response(server, browser, account, card, challenges[index], solve(challenges[index], code="13579"))
        assert wrong.status_code == 403, wrong.text
        assert f"{left} attempts left" in wrong.json()["messages"][0]["messageText"]
        if left:
            assert get_challenge(server, browser, account, card)["attemptsLeft"] == left
    # Blocked: even the right code is refused, and no new challenge is issued.
    right = put_response(server, browser, account, card, challenges[3], solve(challenges[3]))
    assert right.status_code == 423, right.text
    get_challenge(server, browser, account, card, expect=423)
    assert browser.get(server.url("/session")).status_code == 401

    unblocked = server.cli("users", "unblock-access-tool", "--account", account, "--card", card)
    assert unblocked["attemptsLeft"] == 3 and unblocked["accessTool"] == "SOFTTOKEN"
    challenge = get_challenge(server, browser, account, card)
    assert challenge["attemptsLeft"] == 3
    assert put_response(server, browser, account, card, challenge, solve(challenge)).status_code == 200


def test_replayed_challenge_handle_is_refused_and_not_counted(server):
    account, card = login_user(server)
    browser = requests.Session()
    challenge = get_challenge(server, browser, account, card)
    response_hex = solve(challenge)
    assert put_response(server, browser, account, card, challenge, response_hex).status_code == 200
    replayed = put_response(server, browser, account, card, challenge, response_hex)
    assert replayed.status_code == 409, replayed.text
    # A handle from another browser's session is refused as well.
    stranger = requests.Session()
    foreign = get_challenge(server, browser, account, card)
    get_challenge(server, stranger, account, card)
    assert put_response(server, stranger, account, card, foreign, solve(foreign)).status_code == 409
    assert get_challenge(server, stranger, account, card)["attemptsLeft"] == 3


def test_scenario_step_up_inside_the_session(server):
    account, card = login_user(server)
    browser = requests.Session()
    challenge = get_challenge(server, browser, account, card)
    assert put_response(server, browser, account, card, challenge, solve(challenge)).status_code == 200
    payee = {"iban": "NL02ABNA0123456789", "name": "Alice"}
    method = browser.post(server.url("/usertokens/session/scenariosigningmethod"), json={"scenarioName": "ADD_PAYEE"})
    assert method.status_code == 200 and method.json()["scenarioSigningMethod"]["accessToolUsage"] == "SOFTTOKEN"
    issued = browser.post(server.url("/usertokens/session/scenariochallenge"),
                          json={"scenarioName": "ADD_PAYEE", "scenarioData": payee})
    assert issued.status_code == 200, issued.text
    scenario = issued.json()["scenarioChallenge"]
    assert scenario["scenarioHash"] == scenario_hash("ADD_PAYEE", payee).hex()
    # A login-shaped answer (no field 10) proves the code but not the data: refused (SECURITY.md).
    login_shaped = dict(scenario, challenge=tlv_encode(
        [(i, v) for i, v in tlv_decode(bytes.fromhex(scenario["challenge"])).items() if i not in (0, 10)]).hex())
    refused = browser.post(server.url("/usertokens/session/scenarioresponse"), json={
        "scenarioName": "ADD_PAYEE", "scenarioData": payee, "challengeHandle": scenario["challengeHandle"],
        "response": solve(login_shaped)})
    assert refused.status_code == 403, refused.text
    issued = browser.post(server.url("/usertokens/session/scenariochallenge"),
                          json={"scenarioName": "ADD_PAYEE", "scenarioData": payee})
    scenario = issued.json()["scenarioChallenge"]
    signed = browser.post(server.url("/usertokens/session/scenarioresponse"), json={
        "scenarioName": "ADD_PAYEE", "scenarioData": payee, "challengeHandle": scenario["challengeHandle"],
        "response": solve(scenario, scenario=scenario_hash("ADD_PAYEE", payee))})
    assert signed.status_code == 200, signed.text
    assert signed.json()["scenarioResponse"]["status"] == "SIGNED"
    assert signed.json()["scenarioResponse"]["scenarioHash"] == scenario["scenarioHash"]


def test_bad_input_gets_4xx_in_the_apis_error_shape(server):
    browser = requests.Session()
    for params, status in [
        ({"accountNumber": "123"}, 400),
        ({"accountNumber": "12x", "cardNumber": "1", "accessToolUsage": "SOFTTOKEN"}, 400),
        ({"accountNumber": "123", "cardNumber": "1", "accessToolUsage": "EDENTIFIER1"}, 400),
    ]:
        response = browser.get(server.url("/session/loginchallenge"), params=params)
        assert response.status_code == status, (params, response.text)
        assert response.headers["Content-Type"] == "application/json"
        assert response.json()["messages"][0]["messageKey"] == "MESSAGE_INVALID_REQUEST"
    assert browser.put(server.url("/session/loginresponse"), data="{", headers={"Content-Type": "application/json"}).status_code == 400
    assert browser.put(server.url("/session/loginresponse"), json={"accountNumber": 1}).status_code == 400
    assert browser.delete(server.url("/session")).status_code == 401
