"""Passkeys in a real browser (issue 17): Debian's chromium, headless, with Chromium's WebDriver
virtual authenticator (CTAP2, internal transport, resident keys, user verification — a platform
passkey as a phone or laptop has one) driving the self-service pages and the hosted login.

One customer's story: the customer signs in with the password, asks to add a passkey, confirms it
is them with the SMS code (no device yet), creates the passkey (passkeys.js runs
navigator.credentials.create), signs out, signs in with the passkey alone (no username: a
discoverable credential; the session is two-factor at once) — once more with the script's own
base64url encoding instead of WebAuthn L3's JSON helpers — approves a Shine action request that a
client created — the page shows exactly what is signed — and the client's poll turns CONFIRMED;
then an OAuth client's hosted login with the password and the passkey ends in a code that authlib
exchanges for a two-factor token.

WebAuthn needs a secure context and an RP ID that is a domain: the test runs its own node whose
issuer is http://localhost:PORT, so the defaults give webauthn.rpId=localhost and
webauthn.origins=http://localhost:PORT (the browser visits localhost, never 127.0.0.1).
"""
import contextlib
import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

import cluster
import conftest
from test_web_ui import browser, click_and_load, fill, shoot, text_of  # noqa: F401 (browser is a fixture)

TWO_FACTOR = "urn:strongauth:acr:2fa"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A node of its own on http://localhost:PORT (issuer, RP ID and origin follow from it), on a
    database of its own: on the suite's PostgreSQL database the session's server would also deliver
    this node's SMS — into its own notifications file, where this test does not look."""
    workdir = tmp_path_factory.mktemp("passkeys-node")
    port = conftest._free_port()
    env = conftest.caller_env(conftest._child_env(), STRONGAUTH_ISSUER=f"http://localhost:{port}")
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(cluster.scratch_database("sa_web_passkeys")).url if conftest.DATABASE_URL else None
        with cluster.Node("web-passkeys", workdir, env, port=port, database_url=database_url) as started:
            yield started


def local(node, path=""):
    return f"http://localhost:{node.port}{path}"


def newest_otp(node, phone, before, timeout=10.0):
    """The OTP of the first SMS to `phone` after the `before` ones (the node's notifications file)."""
    path = Path(node.workdir) / "data" / "notifications.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        mine = [line for line in lines if line["to"] == phone]
        if len(mine) > before:
            return mine[before]["message"].split(" is ")[1][:6]
        time.sleep(0.1)
    pytest.fail(f"no SMS to {phone} within {timeout} s")


def sms_count(node, phone):
    path = Path(node.workdir) / "data" / "notifications.jsonl"
    return sum(1 for line in path.read_text().splitlines() if json.loads(line)["to"] == phone) if path.exists() else 0


def add_virtual_authenticator(driver):
    """A platform authenticator that keeps discoverable credentials and verifies the user."""
    from selenium.webdriver.common.virtual_authenticator import Protocol, Transport, VirtualAuthenticatorOptions
    options = VirtualAuthenticatorOptions(
        protocol=Protocol.CTAP2, transport=Transport.INTERNAL, has_resident_key=True, has_user_verification=True,
        is_user_consenting=True, is_user_verified=True)
    driver.add_virtual_authenticator(options)


def click_passkey_button(driver, button_id, arrived, timeout=20):
    """Clicks a passkey button (the script shows it) and waits until the script's redirect lands
    where `arrived(url)` says; a message in the page's status element fails the test at once."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    button = WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, button_id) if d.find_element(By.ID, button_id).is_displayed()
                                             else None)
    button.click()

    def landed(d):
        try:
            status = d.find_elements(By.ID, "passkey-status")
            if status and status[0].is_displayed() and status[0].text:
                pytest.fail(f"the passkey ceremony failed: {status[0].text}")
            return arrived(d.current_url) and d.execute_script("return document.readyState") == "complete"
        except WebDriverException:
            return False  # between two documents
    WebDriverWait(driver, timeout).until(landed)


def test_passkey_added_signs_in_approves_an_action_request_and_the_hosted_login(node, browser, tmp_path):
    from selenium.webdriver.common.by import By

    phone = "+4915199887766"
    username = "passkey-" + generate_token(6).lower()
    created = node.cli("users", "create", "--username", username, "--password", "customer password", "--phone", phone)
    assert created.get("id"), created
    client = node.cli("clients", "create", "--id", "shine-" + generate_token(6).lower(), "--scopes", "accounts,transfers",
                      "--grants", "client_credentials,password,refresh_token")
    client_id, client_secret = client["clientId"], client["clientSecret"]

    browser.delete_all_cookies()
    add_virtual_authenticator(browser)
    try:
        # The sign-in page loads the one script, allowed by its policy; no inline script anywhere.
        page = requests.get(local(node, "/self-service/login"), timeout=10)
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy, policy
        assert "<script src=\"/static/passkeys.js?v=" in page.text and "<script>" not in page.text and " onclick=" not in page.text

        # 1. Password sign-in, then "Add a passkey": the step-up first (an SMS code: no device yet).
        browser.get(local(node, "/self-service/login"))
        fill(browser, "username", username)
        fill(browser, "password", "customer password")
        click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
        assert urlparse(browser.current_url).path == "/self-service"
        click_and_load(browser, browser.find_element(By.ID, "add-passkey"))
        before = sms_count(node, phone)
        click_and_load(browser, browser.find_element(By.ID, "confirm-add-passkey"))
        assert urlparse(browser.current_url).path == "/self-service/step-up"
        assert "Add a passkey" in text_of(browser, "step-up-action")
        fill(browser, "otp", newest_otp(node, phone, before))
        click_and_load(browser, browser.find_element(By.ID, "step-up-verify"))
        assert urlparse(browser.current_url).path == "/self-service/passkeys/new"

        # 2. The passkey: navigator.credentials.create through passkeys.js, then the device list shows it.
        fill(browser, "passkey-name", "Test laptop")
        shoot(browser, "self-service-add-passkey")
        click_passkey_button(browser, "create-passkey", lambda url: url.endswith("/self-service?done=passkey"))
        assert "Your passkey is added" in browser.page_source
        row = browser.find_element(By.XPATH, "//tr[td/a[text()='Test laptop']]")
        assert "ACTIVE" in row.text and "Passkey" in row.text, row.text
        credentials = browser.get_credentials()
        assert len(credentials) == 1 and credentials[0].is_resident_credential

        # 3. Sign out; sign in with the passkey alone — a two-factor session at once: the password
        # form of the account page is there without a step-up.
        click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form.logout button"))
        assert urlparse(browser.current_url).path == "/self-service/login"
        click_passkey_button(browser, "passkey-sign-in", lambda url: urlparse(url).path == "/self-service")
        assert f"Signed in as {username}" in browser.find_element(By.CSS_SELECTOR, "form.logout").text
        browser.get(local(node, "/self-service/account"))
        assert browser.find_elements(By.ID, "change-password"), "a passkey sign-in is two-factor"

        # 3b. The same in a browser without WebAuthn L3's JSON helpers: the script's own base64url
        # encoding of the options and of the assertion (what older browsers get).
        click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form.logout button"))
        browser.execute_script("PublicKeyCredential.parseRequestOptionsFromJSON = undefined;"
                               "PublicKeyCredential.prototype.toJSON = undefined;")
        assert browser.execute_script("return PublicKeyCredential.parseRequestOptionsFromJSON === undefined")
        click_passkey_button(browser, "passkey-sign-in", lambda url: urlparse(url).path == "/self-service")
        assert f"Signed in as {username}" in browser.find_element(By.CSS_SELECTOR, "form.logout").text

        # 4. A client (Shine's face) asks the user to confirm a transfer; the user approves it on the web.
        token = requests.post(local(node, "/oauth/token"), auth=(client_id, client_secret), timeout=10,
                              data={"grant_type": "password", "username": username, "password": "customer password"}).json()
        uid = jwt.decode(token["access_token"], options={"verify_signature": False})["sub"]
        payload = {"amount": 4200, "bankTransferRecipientId": "RECIPIENT-1", "uid": uid}
        made = requests.post(local(node, "/v2/authentication/oauth2/action_request"), timeout=10, json={
            "action": "bank:transfers:create", "client_id": client_id, "client_secret": client_secret, "uid": uid, "payload": payload})
        assert made.status_code in (200, 201), made.text
        request_id = made.json()["data"]["authenticationActionRequestId"]
        poll_url = local(node, f"/v2/authentication/oauth2/action_request/{request_id}/poll")
        credentials_query = {"client_id": client_id, "client_secret": client_secret}
        assert requests.get(poll_url, params=credentials_query, timeout=10).json()["data"]["status"] == "PENDING"

        browser.get(local(node, "/self-service/approvals"))
        click_and_load(browser, browser.find_element(By.CSS_SELECTOR, f"a[data-approval='{request_id}']"))
        shown = text_of(browser, "approval-data")
        assert shown.startswith("bank:transfers:create") and '"amount":4200' in shown, shown
        assert text_of(browser, "approval-signed") == f"approve:{request_id}:{shown}"
        shoot(browser, "self-service-approve-with-passkey")
        click_passkey_button(browser, "approve-with-passkey", lambda url: url.endswith(f"/{request_id}?done=approved"))
        assert text_of(browser, "approval-status") == "APPROVED"
        confirmed = requests.get(poll_url, params=credentials_query, timeout=10).json()["data"]
        assert confirmed["status"] == "CONFIRMED" and confirmed["token"], confirmed

        # 5. The hosted login: password, then the passkey as the second factor, then authlib's code exchange.
        code_client = "banking-" + generate_token(6).lower()
        redirect_uri = local(node, "/health")  # any page of the node: only the URL is read
        code_secret = node.cli("clients", "create", "--id", code_client, "--name", "Banking App", "--scopes", "accounts",
                               "--grants", "authorization_code", "--redirect-uri", redirect_uri, "--acr", TWO_FACTOR)["clientSecret"]
        session = OAuth2Session(code_client, code_secret, scope="accounts", redirect_uri=redirect_uri, code_challenge_method="S256")
        verifier = generate_token(48)
        url, state = session.create_authorization_url(local(node, "/oauth/authorize"), code_verifier=verifier)
        browser.get(url)
        fill(browser, "username", username)
        fill(browser, "password", "customer password")
        click_and_load(browser, browser.find_element(By.ID, "sign-in"))
        assert "/oauth/authorize/wait" in browser.current_url
        shoot(browser, "hosted-login-passkey")
        click_passkey_button(browser, "login-passkey", lambda url: url.startswith(redirect_uri + "?"))
        params = {key: values[0] for key, values in parse_qs(urlparse(browser.current_url).query).items()}
        assert params["state"] == state and params["code"] and params["iss"] == local(node)
        tokens = session.fetch_token(local(node, "/oauth/token"), code=params["code"], code_verifier=verifier)
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        assert claims["acr"] == TWO_FACTOR and "hwk" in claims.get("amr", []), claims
    finally:
        browser.remove_virtual_authenticator()
