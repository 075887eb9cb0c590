"""Over HTTP with real clients: 64 KB PowerAuth headers are answered at once (the old
parser's backtracking regular expression spent over ten seconds on one), and the ABN AMRO login
face answers in the API's documented error shape, which the public `abnamro` client
(kinnay/ABN-Amro, from PyPI) consumes as its own `ServiceError`; an unknown account/card gets the
same answers as a known one."""
import asyncio
import secrets

import abnamro
import pytest
import requests

from test_sessions import login_user, CODE

# Answered at once: the old parser needed over ten seconds for the first shape at 60 KB.
TIMEOUT = 5
SIZE = 64 * 1024
SHAPES = {
    "word run": "PowerAuth " + "a" * SIZE,
    "unclosed quotes": "PowerAuth " + 'a="b ' * (SIZE // 5),
    "keys without values": "PowerAuth " + "_1" * (SIZE // 2) + "=",
}


def powerauth_error(response, status):
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert body["status"] == "ERROR" and isinstance(body["responseObject"]["message"], str), body
    return body["responseObject"]


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("path,header", [
    ("/enrollment-server/api/auth/token/app/operation/list", "X-PowerAuth-Token"),
    ("/enrollment-server/api/auth/token/app/operation/authorize", "X-PowerAuth-Authorization"),
    ("/enrollment-server/pa/v3/activation/create", "X-PowerAuth-Encryption"),
])
def test_64kb_powerauth_headers_are_answered_at_once_with_431(server, shape, path, header):
    response = requests.post(server.url(path), headers={header: SHAPES[shape], "Content-Type": "application/json"},
                             data="{}", timeout=TIMEOUT)
    error = powerauth_error(response, 431)
    assert header in error["message"] and "longer than" in error["message"], error


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_40kb_auth_header_in_a_signature_verify_body_is_a_400(server, shape):
    # 40 KB, so that the JSON body (quotes escaped) stays under the 64 KiB body limit and reaches the parser.
    header = SHAPES[shape][:40 * 1024]
    response = requests.post(server.url("/powerauth-cloud/v2/signature/verify"), auth=("nobody", "wrong"), timeout=TIMEOUT,
                             json={"method": "POST", "uriId": "/login", "authHeader": header, "requestBody": "e30="})
    error = powerauth_error(response, 400)
    assert error["code"] == "ERROR_REQUEST" and "authHeader" in error["message"], error


# --- ABN AMRO, through kinnay/ABN-Amro ---------------------------------------------------------------

def abn_client(server):
    """The package's own client and manager; only its base URL points here (PEERS.md)."""
    settings = abnamro.Settings()
    settings.host = server.url("")
    client = abnamro.ServiceClient(settings)
    return client, abnamro.AuthorizationManager(client, settings)


def abn_login(server, account, card, password):
    async def run():
        client, manager = abn_client(server)
        try:
            return await manager.login(int(account), int(card), password)
        finally:
            await client.session.aclose()
    return asyncio.run(run())


def service_error(server, account, card, password):
    with pytest.raises(abnamro.ServiceError) as raised:
        abn_login(server, account, card, password)
    error = raised.value
    assert error.response.headers["Content-Type"] == "application/json"
    assert len(error.messages) == 1, error.messages
    message = error.messages[0]
    assert message["messageType"] == "ERROR" and message["params"] is None and message["messageKey"].startswith("MESSAGE_")
    return error.response.status_code, message


def test_the_abnamro_client_logs_in_and_reads_a_wrong_answer_as_its_service_error(server):
    account, card = login_user(server)
    session = abn_login(server, account, card, CODE)
    assert session.device_type == "SOFTTOKEN" and session.connection_type == "ENDTOEND"

    status, message = service_error(server, account, card, "13579")
    assert status == 403 and message["messageKey"] == "MESSAGE_WRONG_RESPONSE", message
    assert "2 attempts left" in message["messageText"]


def unknown_account():
    """Ten digits starting with 2: no `login_user` account (nine digits) can be it."""
    return "2" + str(secrets.randbelow(10**9)).zfill(9)


def test_an_unknown_account_or_card_is_answered_as_a_known_one_with_a_wrong_answer(server):
    account, card = login_user(server)
    known = [service_error(server, account, card, "13579"), service_error(server, account, card, "97531")]
    assert [message["messageText"] for _, message in known][1].endswith("1 attempts left."), known
    other_card = str(int(card) + 1) if int(card) < 999 else "100"
    for unknown, unknown_card in [(unknown_account(), card), (account, other_card)]:
        # The decoy counts down as the known account does; the right code of another user does not help.
        assert [service_error(server, unknown, unknown_card, "13579"), service_error(server, unknown, unknown_card, CODE)] == known

    # The challenges themselves have the same shape and values.
    def challenge(account_number, card_number):
        response = requests.get(server.url("/session/loginchallenge"), timeout=TIMEOUT, params={
            "accountNumber": account_number, "cardNumber": card_number, "accessToolUsage": "SOFTTOKEN"})
        assert response.status_code == 200, response.text
        assert "strongauth_session" in response.cookies
        return response.json()["loginChallenge"]
    fresh = unknown_account()
    real, decoy, untried = challenge(account, card), challenge(account, other_card), challenge(fresh, card)
    assert sorted(real) == sorted(decoy) == sorted(untried)
    assert real["attemptsLeft"] == decoy["attemptsLeft"] == 1 and untried["attemptsLeft"] == 3
    assert untried["userId"] == f"{fresh}_{card}" and len(untried["challenge"]) == len(real["challenge"])
    assert len(untried["challengeHandle"]) == len(real["challengeHandle"])


def test_an_unknown_account_blocks_as_a_known_one_and_a_user_without_the_tool_looks_unknown(server):
    """Repeated wrong answers, and the access tools a user has, do not tell accounts apart."""
    account, card = login_user(server)
    unknown = unknown_account()
    no_code = str(100_000_000 + secrets.randbelow(899_999_999))
    created = server.cli("users", "create", "--username", server.unique("abn-no-code"), "--account", no_code, "--card", card)
    assert created["softToken"] is False, created
    seen = {}
    for name, number in [("known", account), ("unknown", unknown), ("no tool", no_code)]:
        answers = [service_error(server, number, card, "13579") for _ in range(3)]
        blocked = service_error(server, number, card, "13579")
        seen[name] = answers + [blocked]
    assert seen["known"][-1][0] == 423 and seen["known"][-1][1]["messageKey"] == "MESSAGE_ACCESS_TOOL_BLOCKED"
    # A known user without a soft token gets what an unknown account gets, not a 409.
    assert seen["known"] == seen["unknown"] == seen["no tool"]
    # The right code does not open a blocked known account; a blocked decoy stays blocked too.
    assert service_error(server, account, card, CODE) == service_error(server, unknown, card, CODE)


def test_every_error_of_the_face_is_the_messages_shape(server):
    browser = requests.Session()
    for method, path, kwargs, status in [
        ("GET", "/session", {}, 401),
        ("DELETE", "/session", {}, 401),
        ("GET", "/session/loginchallenge", {"params": {"accountNumber": "1"}}, 400),
        ("GET", "/session/sessionhandoverchallenge", {"params": {"accessToolUsage": "SOFTTOKEN"}}, 401),
        ("PUT", "/session/loginresponse", {"data": "{", "headers": {"Content-Type": "application/json"}}, 400),
        ("PUT", "/session/loginresponse", {"data": "a=b", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 415),
        ("PUT", "/session/loginresponse", {"json": {"accountNumber": 1}}, 400),
        ("POST", "/usertokens/session/scenariosigningmethod", {"json": {"scenarioName": "ADD_PAYEE"}}, 401),
    ]:
        response = browser.request(method, server.url(path), timeout=TIMEOUT, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        assert response.headers["Content-Type"] == "application/json", (method, path)
        messages = response.json()["messages"]
        assert list(response.json()) == ["messages"] and len(messages) == 1
        assert messages[0]["messageType"] == "ERROR" and messages[0]["params"] is None, messages
