"""The authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636, RFC 9207) and pushed
authorization requests (RFC 9126) against the live server: authlib's OAuth2Session is the
client, `requests` is the browser filling in the hosted login's HTML forms (no JavaScript), the
Kontist-style phone of test_devices approves the second factor. Tests are named after the RFC
sections they check."""
import re
import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

import cluster
import conftest
from test_devices import Phone, bind, user_session
from test_web_ui import browser, click_and_load, fill, shoot, text_of  # noqa: F401 (browser is a fixture)

REDIRECT = "https://client.example/callback"
TWO_FACTOR = "urn:strongauth:acr:2fa"


def create_code_client(server, name, *extra):
    """A confidential client with authorization_code and refresh_token; (client_id, secret)."""
    client_id = server.unique(name)
    created = server.cli("clients", "create", "--id", client_id, "--name", "Banking App", "--scopes", "accounts,transfers",
                         "--grants", "authorization_code,refresh_token", "--redirect-uri", REDIRECT, *extra)
    assert created.get("clientSecret"), created
    return client_id, created["clientSecret"]


def hidden_fields(html):
    """The hidden inputs of the page's first form (html.parser would do; the pages are ours)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


def query(location):
    return {key: values[0] for key, values in parse_qs(urlparse(location).query).items()}


def sign_in(server, url, username, password="user-password"):
    """Opens the authorization URL in a fresh browser and posts the password; (browser, answer)."""
    browser = requests.Session()
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    assert "<script" not in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    answer = browser.post(server.url("/oauth/authorize/login"), allow_redirects=False, timeout=10,
                          data={**hidden_fields(page.text), "username": username, "password": password})
    return browser, answer


@pytest.fixture(scope="module")
def metadata(server):
    return requests.get(server.url("/.well-known/oauth-authorization-server"), timeout=10).json()


def test_rfc8414_metadata_names_the_authorization_code_flow(server, metadata):
    assert metadata["authorization_endpoint"] == metadata["issuer"] + "/oauth/authorize"
    assert metadata["pushed_authorization_request_endpoint"] == metadata["issuer"] + "/oauth/par"
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert "authorization_code" in metadata["grant_types_supported"]
    assert TWO_FACTOR in metadata["acr_values_supported"]


def test_rfc6749_4_1_code_with_pkce_s256_then_refresh_and_revocation(server, metadata):
    client_id, secret = create_code_client(server, "authcode")
    username, _ = server.create_user("authcode", "user-password")
    session = OAuth2Session(client_id, secret, scope="accounts", redirect_uri=REDIRECT, code_challenge_method="S256")
    verifier = generate_token(48)
    url, state = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    _, answer = sign_in(server, url, username)
    assert answer.status_code == 303, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    params = query(location)
    assert params["state"] == state
    assert params["iss"] == metadata["issuer"]  # RFC 9207

    token = session.fetch_token(metadata["token_endpoint"], authorization_response=location, code_verifier=verifier)
    assert token["token_type"].lower() == "bearer"
    assert token["scope"] == "accounts"
    introspected = requests.post(server.url("/oauth/introspect"), auth=(client_id, secret),
                                 data={"token": token["access_token"]}, timeout=10).json()
    assert introspected["active"] is True
    assert introspected["acr"] == "urn:strongauth:acr:1fa"
    assert introspected["amr"] == ["pwd"]

    refreshed = session.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    session.revoke_token(server.url("/oauth/revoke"), refreshed["refresh_token"], token_type_hint="refresh_token")
    again = requests.post(metadata["token_endpoint"], auth=(client_id, secret), timeout=10,
                          data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    # §4.1.2: the code presented again is refused, and what it issued is revoked.
    reuse = requests.post(metadata["token_endpoint"], auth=(client_id, secret), timeout=10,
                          data={"grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT,
                                "code_verifier": verifier})
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    gone = requests.post(server.url("/oauth/introspect"), auth=(client_id, secret),
                         data={"token": token["access_token"]}, timeout=10).json()
    assert gone["active"] is False


def test_rfc7636_4_6_wrong_verifier_and_rfc9700_plain_refused(server, metadata):
    client_id, secret = create_code_client(server, "authcode-pkce")
    username, _ = server.create_user("authcode-pkce", "user-password")
    session = OAuth2Session(client_id, secret, scope="accounts", redirect_uri=REDIRECT, code_challenge_method="S256")
    url, _ = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=generate_token(48))
    _, answer = sign_in(server, url, username)
    code = query(answer.headers["Location"])["code"]
    wrong = requests.post(metadata["token_endpoint"], auth=(client_id, secret), timeout=10,
                          data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                "code_verifier": generate_token(48)})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"

    plain = requests.get(metadata["authorization_endpoint"], allow_redirects=False, timeout=10, params={
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "xyz",
        "code_challenge": generate_token(43), "code_challenge_method": "plain"})
    assert plain.status_code == 302
    assert query(plain.headers["Location"])["error"] == "invalid_request"
    assert query(plain.headers["Location"])["state"] == "xyz"
    missing = requests.get(metadata["authorization_endpoint"], allow_redirects=False, timeout=10, params={
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT})
    assert missing.status_code == 302 and query(missing.headers["Location"])["error"] == "invalid_request"
    # An unregistered redirect URI is never redirected to.
    evil = requests.get(metadata["authorization_endpoint"], allow_redirects=False, timeout=10, params={
        "response_type": "code", "client_id": client_id, "redirect_uri": "https://evil.example/cb",
        "code_challenge": generate_token(43), "code_challenge_method": "S256"})
    assert evil.status_code == 400 and "Location" not in evil.headers


def test_rfc9126_pushed_request_then_code(server, metadata):
    client_id, secret = create_code_client(server, "authcode-par", "--require-par")
    username, _ = server.create_user("authcode-par", "user-password")
    verifier = generate_token(48)
    session = OAuth2Session(client_id, secret, scope="accounts", redirect_uri=REDIRECT, code_challenge_method="S256")
    url, state = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    direct = requests.get(url, allow_redirects=False, timeout=10)
    assert direct.status_code == 302 and query(direct.headers["Location"])["error"] == "invalid_request"

    pushed = requests.post(metadata["pushed_authorization_request_endpoint"], auth=(client_id, secret), timeout=10,
                           data=query(url))
    assert pushed.status_code == 201, pushed.text
    body = pushed.json()
    assert body["expires_in"] == 60
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    browser_url = metadata["authorization_endpoint"] + "?" + urlencode({"client_id": client_id, "request_uri": body["request_uri"]})
    _, answer = sign_in(server, browser_url, username)
    assert answer.status_code == 303
    assert query(answer.headers["Location"])["state"] == state
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=answer.headers["Location"], code_verifier=verifier)
    assert token["access_token"]
    # Single use.
    assert requests.get(browser_url, allow_redirects=False, timeout=10).status_code == 400


def test_two_factors_approved_on_the_bound_device(server, metadata):
    password_client = server.create_client("authcode-kontist")
    headers, number = user_session(server, password_client, "authcode-2fa")
    phone = Phone()
    device_id = bind(server, headers, phone, number)
    username = f"authcode-2fa-{server.run_id}"
    client_id, secret = create_code_client(server, "authcode-2fa", "--acr", TWO_FACTOR)
    session = OAuth2Session(client_id, secret, scope="accounts", redirect_uri=REDIRECT, code_challenge_method="S256")
    verifier = generate_token(48)
    url, _ = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    browser, answer = sign_in(server, url, username)
    assert answer.status_code == 303
    wait_url = server.url(answer.headers["Location"])
    waiting = browser.get(wait_url, timeout=10)
    assert 'http-equiv="refresh"' in waiting.text and ">PENDING<" in waiting.text

    approvals = requests.get(server.url("/api/user/approvals"), headers=headers, timeout=10).json()
    approval = next(item for item in approvals if "Sign in to Banking App" in item["data"])
    approved = requests.post(server.url(f"/api/user/approvals/{approval['id']}/approve"), headers=headers, timeout=10,
                             json={"deviceId": device_id, "data": approval["data"],
                                   "signature": phone.sign(f"approve:{approval['id']}:{approval['data']}")})
    assert approved.status_code == 200, approved.text
    page = browser.get(wait_url, timeout=10)
    done = browser.post(server.url("/oauth/authorize/continue"), data=hidden_fields(page.text), allow_redirects=False, timeout=10)
    assert done.status_code == 303 and done.headers["Location"].startswith(REDIRECT)
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=done.headers["Location"], code_verifier=verifier)
    introspected = requests.post(server.url("/oauth/introspect"), auth=(client_id, secret),
                                 data={"token": token["access_token"]}, timeout=10).json()
    assert introspected["acr"] == TWO_FACTOR
    assert introspected["amr"] == ["pwd", "hwk"]


def test_two_factors_by_sms_for_a_user_without_a_device(server, metadata):
    client_id, secret = create_code_client(server, "authcode-sms", "--acr", TWO_FACTOR)
    number = "+49151" + str(abs(hash(("authcode-sms", server.run_id))) % 10**8).zfill(8)
    username, _ = server.create_user("authcode-sms", "user-password", phone=number)
    session = OAuth2Session(client_id, secret, scope="accounts", redirect_uri=REDIRECT, code_challenge_method="S256")
    verifier = generate_token(48)
    url, _ = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    browser, answer = sign_in(server, url, username)
    page = browser.get(server.url(answer.headers["Location"]), timeout=10)
    assert 'name="otp"' in page.text
    otp = server.sms_to(number)
    done = browser.post(server.url("/oauth/authorize/otp"), data={**hidden_fields(page.text), "otp": otp},
                        allow_redirects=False, timeout=10)
    assert done.status_code == 303, done.text
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=done.headers["Location"], code_verifier=verifier)
    introspected = requests.post(server.url("/oauth/introspect"), auth=(client_id, secret),
                                 data={"token": token["access_token"]}, timeout=10).json()
    assert introspected["acr"] == TWO_FACTOR
    assert introspected["amr"] == ["pwd", "sms"]


def test_another_browser_cannot_finish_the_login(server, metadata):
    client_id, _ = create_code_client(server, "authcode-browser")
    username, _ = server.create_user("authcode-browser", "user-password")
    session = OAuth2Session(client_id, "unused", scope="accounts", redirect_uri=REDIRECT, code_challenge_method="S256")
    url, _ = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=generate_token(48))
    page = requests.Session().get(url, timeout=10)
    stolen = hidden_fields(page.text)
    answer = requests.post(server.url("/oauth/authorize/login"), allow_redirects=False, timeout=10,
                           data={**stolen, "username": username, "password": "user-password"})
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_chromium_hosted_login_with_device_approval_ends_at_the_redirect(server, browser, tmp_path):
    """A real browser (Debian's chromium, headless, no JavaScript needed): the hosted login with
    the password, then the approval "Sign in to Banking App" decided on a bound phone (the device
    simulator), ends at the client's redirect URI with a code — the pages' CSP lets the form's
    redirect reach the client (form-action names its origin: the app below is another origin)."""
    import http.server
    import threading

    from selenium.webdriver.common.by import By

    class App(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<h1>The app</h1>")

        def log_message(self, *args):
            pass

    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    app_port = app.server_address[1]

    username, _ = server.create_user("authcode-chromium", "customer password")
    password_client, password_secret = server.create_client("authcode-chromium-phone")
    phone_env = dict(server.env, STRONGAUTH_CLIENT_SECRET=password_secret, STRONGAUTH_USER_PASSWORD="customer password")

    def bound_phone(*args):
        return cluster.cli(server.workdir, phone_env, "", "device", *args, "--server", server.base, "--client-id", password_client,
                           "--username", username, "--key-store", str(tmp_path / "authcode-keys"))

    bound = bound_phone("bind", "--name", "Customer's phone")
    assert bound["status"] == "ACTIVE", bound
    # A loopback redirect URI (any port, RFC 8252 §7.3): the little app above.
    client_id = server.unique("authcode-chromium")
    server.cli("clients", "create", "--id", client_id, "--name", "Banking App", "--scopes", "accounts",
               "--grants", "authorization_code", "--redirect-uri", "http://127.0.0.1/callback", "--acr", TWO_FACTOR)
    session = OAuth2Session(client_id, "unused", scope="accounts", redirect_uri=f"http://127.0.0.1:{app_port}/callback",
                            code_challenge_method="S256")
    url, state = session.create_authorization_url(server.url("/oauth/authorize"), code_verifier=generate_token(48))

    browser.delete_all_cookies()
    browser.get(url)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in to Banking App"
    fill(browser, "username", username)
    fill(browser, "password", "customer password")
    click_and_load(browser, browser.find_element(By.ID, "sign-in"))
    assert "/oauth/authorize/wait" in browser.current_url
    assert text_of(browser, "login-status") == "PENDING"
    shoot(browser, "hosted-login-approval")
    pending = bound_phone("approvals")["approvals"]
    assert len(pending) == 1 and "Sign in to Banking App" in pending[0]["data"], pending
    assert bound_phone("approve", pending[0]["id"], "--device-id", bound["deviceId"])["status"] == "APPROVED"
    deadline = time.monotonic() + 10
    while text_of(browser, "login-status") != "APPROVED" and time.monotonic() < deadline:
        time.sleep(0.3)
        browser.refresh()
    click_and_load(browser, browser.find_element(By.ID, "login-continue"))
    landed = browser.current_url
    app.shutdown()
    assert landed.startswith(f"http://127.0.0.1:{app_port}/callback?"), landed
    assert browser.find_element(By.TAG_NAME, "h1").text == "The app"
    params = query(landed)
    assert params["state"] == state and params["code"] and params["iss"]


@pytest.mark.skipif(not conftest.DATABASE_URL, reason="two nodes share a PostgreSQL database (the PostgreSQL pass)")
def test_two_nodes_login_moves_between_nodes_and_the_code_is_redeemed_once(server, metadata):
    """Scale-out: the login page comes from one node, the password goes to the other (the login
    lives in the database, bound to the browser's cookie), and 12 redemptions of the code spread
    over both nodes at once yield at most one token response, and no live token (one conditional
    update decides; the reuses revoke what it issued)."""
    import concurrent.futures

    peer = cluster.Node("authcode-peer", server.workdir, cluster.peer_env(server))
    peer.start()
    try:
        client_id, secret = create_code_client(server, "authcode-nodes")
        username, _ = server.create_user("authcode-nodes", "user-password")
        session = OAuth2Session(client_id, secret, scope="accounts", redirect_uri=REDIRECT, code_challenge_method="S256")
        verifier = generate_token(48)
        url, _ = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
        browser = requests.Session()
        page = browser.get(server.base + url[len(metadata["issuer"]):], timeout=10)
        assert page.status_code == 200, page.text
        answer = browser.post(peer.base + "/oauth/authorize/login", allow_redirects=False, timeout=10,
                              data={**hidden_fields(page.text), "username": username, "password": "user-password"})
        assert answer.status_code == 303, answer.text
        code = query(answer.headers["Location"])["code"]
        bases = [server.base, peer.base]
        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(lambda index: requests.post(
                bases[index % 2] + "/oauth/token", auth=(client_id, secret), timeout=30,
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}),
                range(12)))
        # One redemption wins the conditional update; the others are reuses, which revoke what
        # the winner issued (§4.1.2) — also when they come while it is being issued, so the
        # winner itself is usually refused too. Never two token responses, never a live token.
        issued = [response.json() for response in answers if response.status_code == 200]
        refused = [response for response in answers if response.status_code != 200]
        assert len(issued) <= 1, issued
        assert all(response.status_code == 400 and response.json()["error"] == "invalid_grant" for response in refused), \
            [response.text for response in refused]
        for token in issued:
            assert requests.post(server.url("/oauth/introspect"), auth=(client_id, secret), timeout=10,
                                 data={"token": token["access_token"]}).json()["active"] is False
    finally:
        assert peer.stop() == 0, peer.log_tail()


def test_rfc6749_2_1_public_client_with_pkce_and_par(server, metadata):
    """A public client (a native app: no secret) sends only its client_id: PKCE is what proves the
    code is its own (RFC 7636 §1). It may push its request (RFC 9126 §2) and revoke its tokens
    (RFC 7009 §2.1), never introspect."""
    client_id = server.unique("authcode-public")
    created = server.cli("clients", "create", "--id", client_id, "--public", "--scopes", "accounts",
                         "--grants", "authorization_code,refresh_token", "--redirect-uri", "http://127.0.0.1/callback")
    assert "clientSecret" not in created and created["public"] is True, created
    username, _ = server.create_user("authcode-public", "user-password")
    # A loopback redirect URI matches on any port (RFC 8252 §7.3): a native app's local listener.
    redirect = "http://127.0.0.1:53682/callback"
    session = OAuth2Session(client_id, scope="accounts", redirect_uri=redirect, code_challenge_method="S256",
                            token_endpoint_auth_method="none")
    verifier = generate_token(48)
    url, state = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    _, answer = sign_in(server, url, username)
    assert answer.status_code == 303, answer.text
    location = answer.headers["Location"]
    assert location.startswith(redirect + "?") and query(location)["state"] == state

    # Without the verifier the code is worth nothing to whoever intercepted it.
    stolen = requests.post(metadata["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": query(location)["code"], "redirect_uri": redirect, "client_id": client_id})
    assert stolen.status_code == 400 and stolen.json()["error"] in ("invalid_request", "invalid_grant"), stolen.text

    # The stolen attempt used the code up (and revoked nothing, it issued nothing): a fresh login.
    url, state = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    _, answer = sign_in(server, url, username)
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=answer.headers["Location"],
                                code_verifier=verifier)
    assert token["access_token"] and token["scope"] == "accounts"
    introspect = requests.post(server.url("/oauth/introspect"), timeout=10,
                               data={"token": token["access_token"], "client_id": client_id})
    assert introspect.status_code == 401 and introspect.json()["error"] == "invalid_client"
    revoked = requests.post(server.url("/oauth/revoke"), timeout=10,
                            data={"token": token["access_token"], "client_id": client_id})
    assert revoked.status_code == 200, revoked.text

    pushed = requests.post(server.url("/oauth/par"), timeout=10, data={
        "client_id": client_id, "response_type": "code", "redirect_uri": redirect, "scope": "accounts",
        "code_challenge": generate_token(43), "code_challenge_method": "S256"})
    assert pushed.status_code == 201, pushed.text
    assert pushed.json()["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")


def test_strongauth_login_runs_the_flow_against_a_loopback_listener(server):
    """`strongauth login` (a developer's smoke test): it listens on 127.0.0.1, prints the
    authorization URL, and prints the tokens once the browser comes back with a code."""
    import json
    import subprocess
    client_id = server.unique("cli-login")
    server.cli("clients", "create", "--id", client_id, "--public", "--scopes", "accounts",
               "--grants", "authorization_code,refresh_token", "--redirect-uri", "http://127.0.0.1/callback")
    username, _ = server.create_user("cli-login", "user-password")
    process = subprocess.Popen(
        [str(conftest.BINARY), "login", "--server", server.base, "--client-id", client_id, "--scope", "accounts",
         "--par", "--timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=server.env)
    try:
        url = None
        for _ in range(20):
            line = process.stderr.readline()
            if line.startswith("http"):
                url = line.strip()
                break
        assert url and "request_uri=" in url, url
        _, answer = sign_in(server, url, username)
        assert answer.status_code == 303, answer.text
        callback = answer.headers["Location"]
        assert callback.startswith("http://127.0.0.1:") and "/callback?" in callback
        assert requests.get(callback, timeout=10).status_code == 200  # the browser reaches the listener
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    tokens = json.loads(out)
    assert tokens["access_token"] and tokens["refresh_token"] and tokens["scope"] == "accounts"


def test_requests_oauth2client_par_dpop_code_and_refresh(server, metadata):
    """requests-oauth2client (a second, independent client library) runs the FAPI-shaped flow:
    a pushed request with PKCE, the hosted login, the code redeemed with a DPoP proof, the refresh
    with the same key — the tokens bound to it (cnf.jkt) all along."""
    import jwt as pyjwt
    from requests_oauth2client import DPoPToken, OAuth2Client
    client_id, secret = create_code_client(server, "authcode-roc", "--require-par", "--dpop-required")
    username, _ = server.create_user("authcode-roc", "user-password")
    oauth = OAuth2Client(
        token_endpoint=metadata["token_endpoint"], authorization_endpoint=metadata["authorization_endpoint"],
        pushed_authorization_request_endpoint=metadata["pushed_authorization_request_endpoint"],
        issuer=metadata["issuer"], client_id=client_id, client_secret=secret, redirect_uri=REDIRECT,
        dpop_bound_access_tokens=True, testing=True)  # testing: plain http on 127.0.0.1
    request = oauth.authorization_request(scope="accounts", nonce=None)
    pushed = oauth.pushed_authorization_request(request)
    _, answer = sign_in(server, str(pushed.uri), username)
    assert answer.status_code == 303, answer.text
    token = oauth.authorization_code(request.validate_callback(answer.headers["Location"]))
    assert isinstance(token, DPoPToken), token
    jkt = token.dpop_key.dpop_jkt
    assert pyjwt.decode(token.access_token, options={"verify_signature": False})["cnf"]["jkt"] == jkt
    refreshed = oauth.refresh_token(token)
    assert isinstance(refreshed, DPoPToken)
    assert pyjwt.decode(refreshed.access_token, options={"verify_signature": False})["cnf"]["jkt"] == jkt
    # Without a proof the client gets nothing: it is registered --dpop-required.
    bare = requests.post(metadata["token_endpoint"], auth=(client_id, secret), timeout=10,
                         data={"grant_type": "refresh_token", "refresh_token": refreshed.refresh_token})
    assert bare.status_code == 400 and bare.json()["error"] in ("invalid_dpop_proof", "invalid_request"), bare.text
