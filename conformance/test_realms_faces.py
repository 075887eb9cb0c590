"""Two realms across every face ("one security model"): realm B can neither read, change,
count nor tell apart realm A's objects — request signatures and MAC tokens, out-of-band
operations, login sessions, finAPI processes, webhook deliveries, introspection and revocation,
and the audit log. Each check compares B's answer about A's object with B's answer about an
unknown one: the same status and the same body. Both realms have an `alice`. Runs on SQLite and
on PostgreSQL (STRONGAUTH_TEST_DATABASE_URL).

conformance/test_realms.py covers users, registrations, action requests and the back office's
lists; this file shares its helpers.
"""
import base64
import json
import time
import uuid

import jwt
import pytest
import requests

import powerauth_phone as pa
from test_action_requests import username_of
from test_powerauth import Cloud, activated_phone
from test_realms import action_request, client_token, csrf_of, finapi_create, mobile_list, password_token, totp
from test_sessions import get_challenge, put_response, scenario_hash, solve

UNKNOWN = "00000000-0000-0000-0000-000000000000"


def same(foreign, unknown):
    """B's answer about A's object is exactly its answer about nothing."""
    assert foreign.status_code == unknown.status_code, (foreign.status_code, foreign.text, unknown.status_code, unknown.text)
    # RFC 9457's `instance` echoes the request's own path, which names the id asked about.
    strip = lambda body: {k: v for k, v in body.items() if k != "instance"} if isinstance(body, dict) else body
    assert strip(foreign.json()) == strip(unknown.json()), (foreign.text, unknown.text)


def dead_url():
    """A callback URL nobody answers: deliveries stay in the log."""
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


class Realm:
    pass


def make_realm(server, name, alice_account):
    r = Realm()
    r.id = server.unique(f"faces-{name}")
    assert server.cli("realms", "create", "--id", r.id) == {"id": r.id}
    created = server.cli("clients", "create", "--id", server.unique(f"faces-client-{name}"), "--scopes", "accounts,transfers",
                         "--grants", "client_credentials,password,refresh_token", "--realm", r.id, "--webhook-url", dead_url())
    r.client = (created["clientId"], created["clientSecret"])
    rs = server.cli("clients", "create", "--id", server.unique(f"faces-rs-{name}"), "--scopes", "accounts",
                    "--grants", "client_credentials", "--realm", r.id, "--introspect")
    r.resource_server = (rs["clientId"], rs["clientSecret"])
    r.app = server.cli("apps", "create", "--id", server.unique(f"faces-app-{name}"), "--realm", r.id, "--callback-url", dead_url())
    integration = server.cli("integration-users", "create", "--name", server.unique(f"faces-iu-{name}"),
                             "--app", r.app["applicationId"], "--realm", r.id)
    r.cloud = Cloud(server, integration["name"], integration["password"])
    r.integration_name = integration["name"]
    r.phone, r.registration = activated_phone(server, r.app, r.cloud, user_id="alice")
    # finAPI's alice (another user of the realm than PowerAuth's, owned by the client).
    created = finapi_create(server, r.client, "alice-fin", f"alice-password-{name}")
    assert created.status_code == 201, created.text
    r.tokens = password_token(server, r.client, "alice-fin", f"alice-password-{name}").json()
    r.user_id = username_of({"Authorization": "Bearer " + r.tokens["access_token"]}, server)
    # ABN AMRO's alice: a login identity of this realm.
    r.account, r.card = alice_account, str(100 + (int(alice_account) % 800))
    login = server.cli("users", "create", "--username", "alice-abn", "--account", r.account, "--card", r.card,
                       "--identification-code", "24680", "--realm", r.id)
    assert login["realm"] == r.id, login
    r.login_user_id = login["id"]
    r.operator = server.cli("operators", "create", "--username", server.unique(f"faces-op-{name}"), "--password", "operator password",
                            "--realm", r.id)
    return r


@pytest.fixture(scope="module")
def a(server):
    import secrets
    return make_realm(server, "a", str(100_000_000 + secrets.randbelow(899_999_999)))


@pytest.fixture(scope="module")
def b(server):
    import secrets
    return make_realm(server, "b", str(100_000_000 + secrets.randbelow(899_999_999)))


def with_activation(header, activation_id):
    parts = pa.parse_powerauth_header(header)
    parts["pa_activation_id"] = activation_id
    return "PowerAuth " + ", ".join(f'{k}="{v}"' for k, v in parts.items())


def verify_body(header):
    return {"method": "POST", "uriId": "/login", "authHeader": header, "requestBody": base64.b64encode(b"{}").decode()}


# --- 1. request signatures and MAC tokens -----------------------------------------------------------


@pytest.mark.parametrize("factors", [("possession", "knowledge"), ("possession",)])
def test_realm_b_cannot_verify_realm_a_signatures(server, a, b, factors):
    rid = a.registration["registrationId"]
    # Warm A's node-local hint first, so that B's request meets the fast path too.
    assert a.cloud.verify("POST", "/login", a.phone.sign("POST", "/login", b"{}", factors), b"{}")["signatureValid"] is True
    header = a.phone.sign("POST", "/login", b"{}", factors, advance=False)
    foreign = b.cloud.verify_raw(verify_body(header))
    unknown = b.cloud.verify_raw(verify_body(with_activation(header, str(uuid.uuid4()))))
    same(foreign, unknown)
    assert rid not in foreign.text
    # B's attempt neither used the signature's counter value nor counted a failure.
    accepted = a.cloud.verify("POST", "/login", header, b"{}")
    assert accepted["signatureValid"] is True and accepted["remainingAttempts"] == 5, accepted
    a.phone.sign("POST", "/login", b"{}", factors)  # the phone moves on, as after a sent request


def test_realm_b_cannot_verify_realm_a_tokens(server, a, b):
    token_id, secret = a.phone.create_token()
    foreign = b.cloud.verify_token_raw(a.phone.token_header(token_id, secret))
    unknown = b.cloud.verify_token_raw(a.phone.token_header(str(uuid.uuid4()), secret))
    same(foreign, unknown)
    assert foreign.json()["tokenValid"] is False
    assert a.cloud.verify_token(a.phone.token_header(token_id, secret))["tokenValid"] is True


def test_realm_b_cannot_read_or_change_realm_a_registrations(server, a, b):
    rid = a.registration["registrationId"]
    session, url = b.cloud.session, b.cloud.url
    for method, path, body in (("GET", "/registrations/{}", None), ("PUT", "/registrations/{}", {"change": "BLOCK"}),
                               ("POST", "/registrations/{}/commit", {}), ("DELETE", "/registrations/{}", None)):
        foreign = session.request(method, url(path.format(rid)), data=None if body is None else json.dumps(body), timeout=10)
        unknown = session.request(method, url(path.format(UNKNOWN)), data=None if body is None else json.dumps(body), timeout=10)
        same(foreign, unknown)
    assert a.cloud.registration(rid)["registrationStatus"] == "ACTIVE"
    # B's own alice has B's registration only.
    listed = b.cloud.registrations("alice", removed=True).json()["registrations"]
    assert [entry["registrationId"] for entry in listed] == [b.registration["registrationId"]]


def test_realm_b_cannot_tell_realm_a_applications_from_unknown_ones(server, a, b):
    # Application ids are installation-wide names; that one exists in another realm is not B's to learn.
    def create(app_id):
        return b.cloud.create_registration({"userId": "alice", "appId": app_id})
    same(create(a.app["applicationId"]), create(server.unique("no-such-app")))
    listed = a.cloud.registrations("alice", removed=True).json()["registrations"]
    assert [entry["registrationId"] for entry in listed] == [a.registration["registrationId"]]
    same(b.cloud.session.get(b.cloud.url("/webhooks/deliveries"), params={"applicationId": a.app["applicationId"]}, timeout=10),
         b.cloud.session.get(b.cloud.url("/webhooks/deliveries"), params={"applicationId": server.unique("no-app")}, timeout=10))


# --- 2. operations -----------------------------------------------------------------------------------


def create_operation(realm, user_id="alice", amount="1.00"):
    created = realm.cloud.session.post(realm.cloud.url("/operations"), timeout=10, data=json.dumps({
        "userId": user_id, "template": "default.payment", "parameters": {"amount": amount, "currency": "EUR", "account": "DE02"}}))
    assert created.status_code == 200, created.text
    return created.json()["operationId"]


def test_realm_b_cannot_read_list_or_cancel_realm_a_operations(server, a, b):
    operation_id = create_operation(a)
    session, url = b.cloud.session, b.cloud.url
    for method in ("GET", "DELETE"):
        same(session.request(method, url(f"/operations/{operation_id}"), timeout=10),
             session.request(method, url(f"/operations/{UNKNOWN}"), timeout=10))
    listed = session.get(url("/operations"), params={"userId": "alice"}, timeout=10)
    assert listed.status_code == 200 and operation_id not in listed.text
    assert operation_id not in session.get(url("/operations"), params={"userId": "alice", "pendingOnly": "true"}, timeout=10).text
    # B's alice's phone is not offered it, and cannot open it.
    assert operation_id not in json.dumps(mobile_list(server, b.phone))
    token_id, token_secret = b.phone.create_token()

    def detail(identifier):
        body = json.dumps({"requestObject": {"id": identifier}}).encode()
        return requests.post(server.url("/enrollment-server/api/auth/token/app/operation/detail"), data=body, timeout=10, headers={
            "Content-Type": "application/json", "X-PowerAuth-Token": b.phone.token_header(token_id, token_secret)})
    same(detail(operation_id), detail(UNKNOWN))
    # Still A's, untouched.
    mine = a.cloud.session.get(a.cloud.url(f"/operations/{operation_id}"), timeout=10)
    assert mine.status_code == 200 and mine.json()["status"] == "PENDING", mine.text
    assert operation_id in json.dumps(mobile_list(server, a.phone))


def test_realm_b_user_tokens_cannot_touch_realm_a_devices_or_approvals(server, a, b):
    operation_id = create_operation(a, amount="3.00")
    rid = a.registration["registrationId"]
    headers = {"Authorization": "Bearer " + b.tokens["access_token"]}

    def post(path, body=None):
        return requests.post(server.url(path), headers=headers, json=body or {}, timeout=10)
    same(post(f"/api/user/devices/{rid}/challenges"), post(f"/api/user/devices/{UNKNOWN}/challenges"))
    same(post(f"/api/user/approvals/{operation_id}/reject"), post(f"/api/user/approvals/{UNKNOWN}/reject"))
    same(post(f"/api/user/approvals/{operation_id}/approve", {"deviceId": rid, "signature": "00"}),
         post(f"/api/user/approvals/{UNKNOWN}/approve", {"deviceId": rid, "signature": "00"}))
    assert a.cloud.session.get(a.cloud.url(f"/operations/{operation_id}"), timeout=10).json()["status"] == "PENDING"
    assert a.cloud.registration(rid)["registrationStatus"] == "ACTIVE"


# --- 3. login sessions -------------------------------------------------------------------------------


def logged_in(server, realm):
    browser = requests.Session()
    challenge = get_challenge(server, browser, realm.account, realm.card)
    answered = put_response(server, browser, realm.account, realm.card, challenge, solve(challenge))
    assert answered.status_code == 200, answered.text
    assert answered.json()["session"]["representedCustomer"] == realm.login_user_id
    return browser


def test_realm_b_sessions_cannot_drive_realm_a_challenges(server, a, b):
    b_browser = logged_in(server, b)
    a_browser = logged_in(server, a)
    # A login challenge of A's alice, answered correctly from B's session: as an unknown handle.
    a_challenge = get_challenge(server, requests.Session(), a.account, a.card)
    foreign = put_response(server, b_browser, a.account, a.card, a_challenge, solve(a_challenge))
    unknown = put_response(server, b_browser, a.account, a.card, dict(a_challenge, challengeHandle="123456789012345678"),
                           solve(a_challenge))
    same(foreign, unknown)
    # A handover challenge names the session's own user, never another realm's.
    handover = b_browser.get(server.url("/session/sessionhandoverchallenge"), params={"accessToolUsage": "SOFTTOKEN"})
    assert handover.status_code == 200, handover.text
    assert handover.json()["loginChallenge"]["userId"] == f"0{b.account}_{b.card}"
    # A's scenario challenge, answered from B's session: as an unknown handle, and A's is still open.
    payee = {"iban": "NL02ABNA0123456789", "name": "Mallory"}
    issued = a_browser.post(server.url("/usertokens/session/scenariochallenge"), json={"scenarioName": "ADD_PAYEE", "scenarioData": payee})
    assert issued.status_code == 200, issued.text
    scenario = issued.json()["scenarioChallenge"]
    answer = solve(scenario, scenario=scenario_hash("ADD_PAYEE", payee))

    def respond(browser, handle):
        return browser.post(server.url("/usertokens/session/scenarioresponse"), json={
            "scenarioName": "ADD_PAYEE", "scenarioData": payee, "challengeHandle": handle, "response": answer})
    same(respond(b_browser, scenario["challengeHandle"]), respond(b_browser, "123456789012345678"))
    signed = respond(a_browser, scenario["challengeHandle"])
    assert signed.status_code == 200, signed.text
    # B's session is still B's.
    assert b_browser.get(server.url("/session")).status_code == 200


# --- 4. finAPI processes -----------------------------------------------------------------------------


def test_realm_a_processes_stay_in_realm_a(server, a, b):
    created = requests.post(server.url("/api/v1/processes"), timeout=10, json={
        "clientId": a.client[0], "clientSecret": a.client[1], "clientReferences": [{"clientReference": "alice"}],
        "processId": "USER_ONLY"})
    assert created.status_code == 201, created.text
    process_token = created.json()["processes"][0]["processToken"]
    exchanged = requests.get(server.url(f"/api/v1/processes/{process_token}"), timeout=10)
    assert exchanged.status_code == 200, exchanged.text
    access_token = exchanged.json()["accessToken"]
    claims = jwt.decode(access_token, options={"verify_signature": False})
    assert claims["realm"] == a.id and claims["client_id"] == a.client[0]
    # B's resource server is told nothing about it; A's is.
    assert introspect(server, b.resource_server, access_token).json() == {"active": False}
    assert introspect(server, a.resource_server, access_token).json()["active"] is True
    # The process identity is no user of B's: an action request for it reads as for nobody.
    same(action_request(server, b.client, claims["sub"]), action_request(server, b.client, str(uuid.uuid4())))
    # A process token presented with B's client credentials buys nothing more either.
    with_b = requests.get(server.url(f"/api/v1/processes/{process_token}"), auth=b.client, timeout=10)
    assert with_b.status_code == 200
    assert jwt.decode(with_b.json()["accessToken"], options={"verify_signature": False})["realm"] == a.id


# --- 5. webhook deliveries ---------------------------------------------------------------------------


def wait_for_deliveries(fetch, timeout=10):
    deadline = time.time() + timeout
    while True:
        deliveries = fetch().json()["deliveries"]
        if deliveries or time.time() > deadline:
            return deliveries
        time.sleep(0.2)


def test_realm_b_cannot_list_or_redeliver_realm_a_deliveries(server, a, b):
    create_operation(a, amount="5.00")
    a_app_deliveries = wait_for_deliveries(lambda: a.cloud.session.get(a.cloud.url("/webhooks/deliveries"), timeout=10))
    assert a_app_deliveries, "A's operation queued no callback"
    action_request(server, a.client, "alice-fin")
    a_client_deliveries = wait_for_deliveries(lambda: requests.get(server.url("/v2/webhooks/deliveries"), auth=a.client, timeout=10))
    assert a_client_deliveries, "A's action request queued no callback"
    ids = {d["id"] for d in a_app_deliveries + a_client_deliveries}

    listed = b.cloud.session.get(b.cloud.url("/webhooks/deliveries"), timeout=10)
    assert listed.status_code == 200 and not ids & {d["id"] for d in listed.json()["deliveries"]}
    same(b.cloud.session.get(b.cloud.url("/webhooks/deliveries"), params={"applicationId": a.app["applicationId"]}, timeout=10),
         b.cloud.session.get(b.cloud.url("/webhooks/deliveries"), params={"applicationId": server.unique("no-app")}, timeout=10))
    listed = requests.get(server.url("/v2/webhooks/deliveries"), auth=b.client, timeout=10)
    assert listed.status_code == 200 and not ids & {d["id"] for d in listed.json()["deliveries"]}
    for delivery in a_app_deliveries:
        same(b.cloud.session.post(b.cloud.url(f"/webhooks/deliveries/{delivery['id']}/retry"), timeout=10),
             b.cloud.session.post(b.cloud.url(f"/webhooks/deliveries/{UNKNOWN}/retry"), timeout=10))
    for delivery in a_client_deliveries:
        same(requests.post(server.url(f"/v2/webhooks/deliveries/{delivery['id']}/retry"), auth=b.client, timeout=10),
             requests.post(server.url(f"/v2/webhooks/deliveries/{UNKNOWN}/retry"), auth=b.client, timeout=10))
    # B's back office neither lists nor retries them.
    browser = operator_browser(server, b)
    page = browser.get(server.url("/admin/webhooks"), timeout=10)
    assert page.status_code == 200 and not any(identifier in page.text for identifier in ids)
    csrf = csrf_of(browser.get(server.url("/admin"), timeout=10).text)
    for identifier in sorted(ids)[:2] + [UNKNOWN]:
        retried = browser.post(server.url(f"/admin/webhooks/{identifier}/retry"), data={"_csrf": csrf}, allow_redirects=False, timeout=10)
        assert retried.status_code == 404, (identifier, retried.status_code)


def test_realm_b_cannot_poll_realm_a_action_requests(server, a, b):
    created = action_request(server, a.client, "alice-fin", amount=9)
    assert created.status_code == 201, created.text
    request_id = created.json()["data"]["authenticationActionRequestId"]
    poll = "/v2/authentication/oauth2/action_request/{}/poll"
    credentials = {"client_id": b.client[0], "client_secret": b.client[1]}
    same(requests.get(server.url(poll.format(request_id)), params=credentials, timeout=10),
         requests.get(server.url(poll.format(UNKNOWN)), params=credentials, timeout=10))
    same(requests.post(server.url(poll.format(request_id)), json=credentials, timeout=10),
         requests.post(server.url(poll.format(UNKNOWN)), json=credentials, timeout=10))
    mine = requests.get(server.url(poll.format(request_id)), params={"client_id": a.client[0], "client_secret": a.client[1]}, timeout=10)
    assert mine.status_code == 200, mine.text


# --- 6. introspection and revocation -----------------------------------------------------------------


def introspect(server, client, token, hint=None):
    data = {"token": token}
    if hint:
        data["token_type_hint"] = hint
    return requests.post(server.url("/oauth/introspect"), auth=client, data=data, timeout=10)


def test_realm_b_resource_server_learns_nothing_of_realm_a_tokens(server, a, b):
    user_token, refresh_token = a.tokens["access_token"], a.tokens["refresh_token"]
    a_client_token = client_token(server, a.client)
    for token in (user_token, refresh_token, a_client_token):
        foreign = introspect(server, b.resource_server, token)
        assert foreign.status_code == 200 and foreign.json() == {"active": False}, foreign.text
        assert foreign.json() == introspect(server, b.resource_server, "sa_rt_" + "x" * 43).json()
        assert introspect(server, a.resource_server, token).json()["active"] is True
    # A's own resource server sees the realm; B's client is not even told the token's client.
    assert introspect(server, a.resource_server, user_token).json().get("client_id") == a.client[0]


def test_realm_b_cannot_revoke_realm_a_tokens(server, a, b):
    tokens = password_token(server, a.client, "alice-fin", "alice-password-a").json()
    for client in (b.client, b.resource_server):
        for token in (tokens["access_token"], tokens["refresh_token"]):
            revoked = requests.post(server.url("/oauth/revoke"), auth=client, data={"token": token}, timeout=10)
            unknown = requests.post(server.url("/oauth/revoke"), auth=client, data={"token": "sa_rt_" + "y" * 43}, timeout=10)
            assert revoked.status_code == unknown.status_code == 200 and revoked.text == unknown.text
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert introspect(server, a.resource_server, token).json()["active"] is True
    refreshed = requests.post(server.url("/oauth/token"), auth=a.client, timeout=10,
                              data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    # And B cannot refresh A's token: as an unknown one.
    foreign = requests.post(server.url("/oauth/token"), auth=b.client, timeout=10,
                            data={"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"]})
    unknown = requests.post(server.url("/oauth/token"), auth=b.client, timeout=10,
                            data={"grant_type": "refresh_token", "refresh_token": "sa_rt_" + "z" * 43})
    same(foreign, unknown)


# --- 7. audit and back office ------------------------------------------------------------------------


_operator_browsers = {}


def operator_browser(server, realm):
    """The realm's operator, signed in once: a TOTP code is accepted once (replays are refused)."""
    if realm.id in _operator_browsers:
        return _operator_browsers[realm.id]
    browser = requests.Session()
    form = browser.get(server.url("/admin/login"), timeout=10)
    signed_in = browser.post(server.url("/admin/login"), allow_redirects=False, timeout=10, data={
        "_csrf": csrf_of(form.text), "username": realm.operator["username"], "password": "operator password",
        "totp": totp(realm.operator["totpSecret"], time.time())})
    assert signed_in.status_code == 303, signed_in.text[:500]
    _operator_browsers[realm.id] = browser
    return browser


def audit_page(server, browser, params=None):
    page = browser.get(server.url("/admin/audit"), params=params or {}, timeout=10)
    assert page.status_code == 200
    return page.text


def test_realm_b_back_office_sees_none_of_realm_a_audit(server, a, b):
    # Everything of A's that writes audit records: a session login, a signature failure, an
    # operation and its cancel, a process, a token revocation.
    logged_in(server, a)
    header = a.phone.sign("POST", "/login", b"{}", ("possession", "knowledge"), knowledge_key=b"\x00" * 16, advance=False)
    assert a.cloud.verify("POST", "/login", header, b"{}")["signatureValid"] is False
    operation_id = create_operation(a, amount="7.00")
    assert a.cloud.session.delete(a.cloud.url(f"/operations/{operation_id}"), timeout=10).status_code == 200
    requests.post(server.url("/oauth/revoke"), auth=a.client, data={"token": client_token(server, a.client)}, timeout=10)
    # B does one thing, so its log is not empty.
    logged_in(server, b)

    a_names = [a.id, a.client[0], a.resource_server[0], a.app["applicationId"], a.integration_name, a.user_id, a.login_user_id,
               a.registration["registrationId"], operation_id]
    browser = operator_browser(server, b)
    deadline = time.time() + 10
    while b.login_user_id not in audit_page(server, browser):  # the sealer runs every few hundred milliseconds
        assert time.time() < deadline, "B's own session login never reached its audit log"
        time.sleep(0.3)
    for path in ("/admin", "/admin/audit", "/admin/webhooks", "/admin/approvals", "/admin/devices"):
        text = browser.get(server.url(path), timeout=10).text
        for name in a_names:
            assert name not in text, (path, name)
    # A's objects are unknown to B's back office, whatever their kind.
    for path in (f"/admin/users/{a.user_id}", f"/admin/users/{a.login_user_id}", f"/admin/devices/{a.registration['registrationId']}",
                 f"/admin/approvals/{operation_id}"):
        assert browser.get(server.url(path), timeout=10).status_code == 404, path
    # A's operator sees A's records (the test can fail).
    text = audit_page(server, operator_browser(server, a))
    assert a.login_user_id in text and operation_id in text


def test_realm_b_back_office_cannot_count_other_realms_audit_events(server, a, b):
    """The audit chain numbers every event of the installation: a realm's operator shown those
    numbers (or paging by them) could count another realm's logins between two of its own."""
    import re
    for amount in range(55):  # more than a page of B's own events
        create_operation(b, amount=f"{amount}.01")
        create_operation(a, amount=f"{amount}.02")
    browser = operator_browser(server, b)
    deadline = time.time() + 10
    while "Older events" not in (page := audit_page(server, browser)):
        assert time.time() < deadline, "B's audit log never grew past one page"
        time.sleep(0.3)
    for text in (page, browser.get(server.url("/admin"), timeout=10).text):
        assert not re.findall(r"<tr><td>\d+</td>", text), "the chain's global numbers are shown"
    cursor = re.search(r'href="/admin/audit\?before=([^"]+)"', page).group(1)
    assert not cursor.isdigit(), cursor
    older = audit_page(server, browser, {"before": requests.utils.unquote(cursor)})
    assert "approval.created" in older and a.app["applicationId"] not in older
    assert not re.findall(r"<tr><td>\d+</td>", older)
    # Nothing but its own cursors pages B's log: bogus ones and another realm's show B's newest events.
    a_page = audit_page(server, operator_browser(server, a))
    a_cursor = re.search(r'href="/admin/audit\?before=([^"]+)"', a_page).group(1)
    for bogus in ("5", "-1", "x" * 40, requests.utils.unquote(a_cursor)):
        answer = browser.get(server.url("/admin/audit"), params={"before": bogus}, timeout=10)
        assert answer.status_code == 200 and a.app["applicationId"] not in answer.text


def test_audit_verify_in_a_realms_view_counts_only_its_events(server, a, b):
    """`strongauth audit verify --realm` is told the realm's own events, never the chain's length
    (which counts every realm's events); without `--realm` it is the installation's view."""
    whole = server.cli("audit", "verify")
    assert whole["intact"] is True
    own = server.cli("audit", "verify", "--realm", b.id)
    assert own["intact"] is True and own["realm"] == b.id, own
    assert "events" not in own and "brokenAt" not in own, own
    assert 0 < own["realmEvents"] < whole["events"], (own, whole)
    assert server.cli("audit", "verify", "--realm", "no-such-realm") == {"intact": True, "realm": "no-such-realm", "realmEvents": 0}
