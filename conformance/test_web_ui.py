"""The back office and self-service in a real browser: Debian's chromium, headless, driven by
Selenium through Debian's chromedriver (.ci/run installs chromium, chromium-driver and zbar-tools).

One story, as an operator and a bank customer would live it: the operator signs in with password
and TOTP (computed here from the printed secret, RFC 6238), creates a PowerAuth registration, and
the QR code on the screen is photographed and decoded with `zbarimg`; the device simulator
activates with what the QR code says; the page shows ACTIVE with the simulator's fingerprint; the
operator blocks it and sees it blocked; the customer signs in to self-service and removes it
after a second factor (an SMS OTP: no ACTIVE device is left), binds a phone, and activates a new
device once that phone approved the approval pushed to it (a password alone never
yields an ACTIVE device).

Screenshots of the main screens go to $STRONGAUTH_SCREENSHOTS_DIR when set (docs/screens/ holds
the committed ones: `STRONGAUTH_SCREENSHOTS_DIR=docs/screens scripts/test --no-postgres`).
Without chromium the test is skipped locally, and fails under CI=1.
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

import cluster
from test_powerauth import phone_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ZBARIMG = shutil.which("zbarimg")
SCREENSHOTS = os.environ.get("STRONGAUTH_SCREENSHOTS_DIR")


@pytest.fixture(scope="module")
def browser():
    missing = [name for name, path in [("chromium", CHROMIUM), ("chromedriver (chromium-driver)", CHROMEDRIVER),
                                       ("zbarimg (zbar-tools)", ZBARIMG)] if not path]
    if missing:
        message = f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver zbar-tools)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--force-device-scale-factor=1", "--lang=en-US"]:
        options.add_argument(argument)
    # Debian's driver, never a download (selenium-manager is not used when a path is given).
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def totp(base32_secret: str, at: float) -> str:
    """RFC 6238: HMAC-SHA1 over the 30-second step, dynamic truncation, 6 digits."""
    key = base64.b32decode(base32_secret + "=" * (-len(base32_secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def shoot(driver, name: str):
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SCREENSHOTS) / f"{name}.png"))


def fill(driver, field_id: str, value: str):
    from selenium.webdriver.common.by import By
    element = driver.find_element(By.ID, field_id)
    element.clear()
    element.send_keys(value)


def click_and_load(driver, element):
    """Clicks a link or submit button and waits until the next page has replaced this one (the
    marker set on this page's window is gone) and has loaded."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    driver.execute_script("window.__strongauthOldPage = true")
    element.click()

    def loaded(d):
        try:
            return d.execute_script("return window.__strongauthOldPage === undefined && document.readyState === 'complete'")
        except WebDriverException:
            return False  # between two documents
    WebDriverWait(driver, 15).until(loaded)


def text_of(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By
    return driver.find_element(By.ID, element_id).text


def test_operator_registers_activates_blocks_and_customer_removes(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    app = server.cli("apps", "create", "--id", server.unique("web-app"), "--name", "Mobile banking")
    customer_phone = "+49151" + str(int(time.time() * 1000))[-8:]
    username, user_id = server.create_user("web-customer", "customer password", phone=customer_phone)
    operator_name = server.unique("olga")
    operator = server.cli("operators", "create", "--username", operator_name, "--password", "operator password")
    assert operator["otpauthUri"].startswith("otpauth://totp/"), operator
    assert "password" not in operator  # only a generated password is printed

    # --- the operator signs in with password and TOTP -------------------------------------
    browser.get(server.url("/admin"))
    assert browser.current_url.endswith("/admin/login")
    shoot(browser, "admin-login")
    fill(browser, "username", operator_name)
    fill(browser, "password", "operator password")
    fill(browser, "totp", "000000" if totp(operator["totpSecret"], time.time()) != "000000" else "111111")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert "Username, password or code is wrong" in browser.page_source
    fill(browser, "username", operator_name)
    fill(browser, "password", "operator password")
    fill(browser, "totp", totp(operator["totpSecret"], time.time()))
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Dashboard", browser.page_source[:2000]
    cookie = browser.get_cookie("sa_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/admin"
    shoot(browser, "admin-dashboard")

    # --- a new registration, its QR code photographed and decoded -------------------------
    browser.get(server.url(f"/admin/registrations/new?userId={username}"))
    Select(browser.find_element(By.ID, "applicationId")).select_by_value(app["applicationId"])
    click_and_load(browser, browser.find_element(By.ID, "create-registration"))
    assert text_of(browser, "device-status") == "CREATED"
    registration_url = browser.current_url.split("?")[0]
    shoot(browser, "admin-registration-qr")
    qr_png = tmp_path / "qr.png"
    browser.find_element(By.ID, "activation-qr").screenshot(str(qr_png))
    decoded = subprocess.run([ZBARIMG, "--quiet", "--raw", str(qr_png)], capture_output=True, text=True, timeout=30)
    assert decoded.returncode == 0, decoded.stderr
    qr_payload = decoded.stdout.strip()
    code, _, signature = qr_payload.partition("#")
    assert code == text_of(browser, "activation-code")
    assert base64.b64decode(signature, validate=True)

    # --- the simulator activates with the QR code's data; the page turns ACTIVE -----------
    phone = phone_cli(server, "device", "activate", "--server", server.base, "--app-key", app["appKey"],
                      "--app-secret", app["appSecret"], "--master-public-key", app["masterPublicKey"],
                      "--code", qr_payload, "--pin", "2468", "--name", "Customer's phone",
                      "--state-dir", str(tmp_path / "phone"))
    deadline = time.monotonic() + 10
    while True:
        browser.get(registration_url)
        if text_of(browser, "device-status") == "ACTIVE" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert text_of(browser, "device-status") == "ACTIVE"
    assert text_of(browser, "fingerprint") == phone["fingerprint"]
    assert not browser.find_elements(By.ID, "activation-qr")  # the code is spent
    shoot(browser, "admin-registration-active")

    # --- blocked with a reason, and seen blocked (also by the phone) ----------------------
    Select(browser.find_element(By.ID, "reason")).select_by_value("DEVICE_LOST")
    click_and_load(browser, browser.find_element(By.ID, "block"))
    assert "The device is blocked." in browser.page_source
    assert text_of(browser, "device-status") == "BLOCKED"
    assert text_of(browser, "blocked-reason") == "DEVICE_LOST"
    status = phone_cli(server, "device", "status", "--activation-id", phone["activationId"],
                       "--state-dir", str(tmp_path / "phone"))
    assert status["status"] == "BLOCKED", status
    timeline = browser.find_element(By.CSS_SELECTOR, "ol.timeline").text
    assert "powerauth.registration.created" in timeline and "powerauth.registration.blocked" in timeline
    shoot(browser, "admin-registration-blocked")

    # --- the other operator screens ------------------------------------------------------
    browser.get(server.url(f"/admin/users?q={username}"))
    click_and_load(browser, browser.find_element(By.LINK_TEXT, username))
    assert browser.find_element(By.TAG_NAME, "h1").text == f"User {username}"
    shoot(browser, "admin-user")
    browser.get(server.url("/admin/audit?verify=1"))
    assert text_of(browser, "chain-status").startswith("Intact")
    shoot(browser, "admin-audit")
    for path, heading in [("/admin/devices", "Devices and registrations"), ("/admin/approvals", "Operations and action requests"),
                          ("/admin/webhooks", "Webhook deliveries")]:
        browser.get(server.url(path))
        assert browser.find_element(By.TAG_NAME, "h1").text == heading
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form.logout button"))
    assert browser.current_url.endswith("/admin/login")
    browser.get(server.url("/admin"))
    assert browser.current_url.endswith("/admin/login")

    # --- the customer removes the device in self-service: a second factor first ----------
    # (docs/security-model.md) The password is one factor. With no ACTIVE device left (the phone is blocked),
    # the second is an SMS OTP to the registered phone.
    browser.delete_all_cookies()
    browser.get(server.url("/self-service"))
    assert browser.current_url.endswith("/self-service/login")
    fill(browser, "username", username)
    fill(browser, "password", "customer password")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Your devices"
    row_status = browser.find_element(By.CSS_SELECTOR, f"[data-device-status='{phone['activationId']}']")
    assert row_status.text == "BLOCKED"
    shoot(browser, "self-service-devices")
    sent_before = sms_count(server, customer_phone)
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, f"[data-remove='{phone['activationId']}']"))
    assert browser.current_url.endswith("/self-service/step-up")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Confirm it is you"
    otp = new_sms(server, customer_phone, sent_before)
    fill(browser, "otp", "000000" if otp != "000000" else "111111")
    click_and_load(browser, browser.find_element(By.ID, "step-up-verify"))
    assert "That code is wrong. 4 more tries" in browser.page_source
    shoot(browser, "self-service-step-up-sms")
    fill(browser, "otp", otp)
    click_and_load(browser, browser.find_element(By.ID, "step-up-verify"))
    assert "The device is removed." in browser.page_source
    assert not browser.find_elements(By.CSS_SELECTOR, f"[data-device-status='{phone['activationId']}']")
    status = phone_cli(server, "device", "status", "--activation-id", phone["activationId"],
                       "--state-dir", str(tmp_path / "phone"))
    assert status["status"] == "REMOVED", status

    # --- a bound phone approves the activation of a new device -----------------------------
    # The customer's phone bound with its own key (Kontist face, SMS OTP); activating another
    # device from the browser pushes an approval to it, with what is being done as its text.
    client_id, client_secret = server.create_client("web-phone-app")
    phone_env = dict(server.env, STRONGAUTH_CLIENT_SECRET=client_secret, STRONGAUTH_USER_PASSWORD="customer password")

    def bound_phone(*args):
        return cluster.cli(server.workdir, phone_env, "", "device", *args, "--server", server.base, "--client-id", client_id,
                           "--username", username, "--key-store", str(tmp_path / "bound-keys"))

    bound = bound_phone("bind", "--name", "Customer's old phone")
    assert bound["status"] == "ACTIVE", bound
    browser.get(server.url("/self-service"))
    choices = browser.find_elements(By.ID, "applicationId")
    if choices:  # the whole suite shares one server: other tests' applications are offered too
        Select(choices[0]).select_by_value(app["applicationId"])
    click_and_load(browser, browser.find_element(By.ID, "activate-new"))
    assert browser.current_url.endswith("/self-service/step-up")
    assert text_of(browser, "step-up-status") == "PENDING"
    assert text_of(browser, "step-up-action") == "Activate a new device in self-service"
    shoot(browser, "self-service-step-up")
    pending = bound_phone("approvals")["approvals"]
    assert len(pending) == 1 and "Activate a new device in self-service" in pending[0]["data"], pending
    assert bound_phone("approve", pending[0]["id"], "--device-id", bound["deviceId"])["status"] == "APPROVED"
    deadline = time.monotonic() + 10  # the page reloads itself every 3 s; a reload here is quicker
    while not browser.find_elements(By.ID, "step-up-continue") and time.monotonic() < deadline:
        time.sleep(0.3)
        browser.get(server.url("/self-service/step-up"))
    assert text_of(browser, "step-up-status") == "APPROVED"
    click_and_load(browser, browser.find_element(By.ID, "step-up-continue"))

    # "Activate a new device": a code and QR code of the customer's own, activated by the phone.
    assert text_of(browser, "device-status") == "CREATED"
    qr = browser.find_element(By.ID, "activation-qr")
    assert qr.get_attribute("src").startswith("data:image/svg+xml;base64,")
    shoot(browser, "self-service-activate")
    new_device_url = browser.current_url.split("?")[0]
    qr.screenshot(str(tmp_path / "qr-new.png"))
    decoded = subprocess.run([ZBARIMG, "--quiet", "--raw", str(tmp_path / "qr-new.png")], capture_output=True, text=True, timeout=30)
    assert decoded.returncode == 0, decoded.stderr
    new_phone = phone_cli(server, "device", "activate", "--server", server.base, "--app-key", app["appKey"],
                          "--app-secret", app["appSecret"], "--master-public-key", app["masterPublicKey"],
                          "--code", decoded.stdout.strip(), "--pin", "1357", "--name", "Customer's new phone",
                          "--state-dir", str(tmp_path / "new-phone"))
    browser.get(new_device_url)
    assert text_of(browser, "device-status") == "ACTIVE"
    assert new_phone["fingerprint"] in browser.page_source


def test_customer_deletes_account_after_bound_phone_approves(server, browser, tmp_path):
    """Self-service "Delete my account": the password session gets the step-up; the
    approval pushed to the customer's bound Kontist ECDSA phone says "Delete your account"; once
    the phone approved it, the account, its device and its sessions are gone, the browser is
    signed out, the password no longer signs in, and the username is free again."""
    from selenium.webdriver.common.by import By

    username, user_id = server.create_user("delete-customer", "customer password")
    client_id, client_secret = server.create_client("delete-phone-app")
    phone_env = dict(server.env, STRONGAUTH_CLIENT_SECRET=client_secret, STRONGAUTH_USER_PASSWORD="customer password")

    def bound_phone(*args, check=True):
        run = cluster.cli if check else cluster.run_cli
        return run(server.workdir, phone_env, "", "device", *args, "--server", server.base, "--client-id", client_id,
                   "--username", username, "--key-store", str(tmp_path / "delete-keys"))

    bound = bound_phone("bind", "--name", "Customer's phone")
    assert bound["status"] == "ACTIVE", bound

    browser.delete_all_cookies()
    browser.get(server.url("/self-service/login"))
    fill(browser, "username", username)
    fill(browser, "password", "customer password")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Your devices"
    click_and_load(browser, browser.find_element(By.LINK_TEXT, "Account"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Your account"
    shoot(browser, "self-service-account")

    # One factor: the step-up, with the approval pushed to the bound phone.
    click_and_load(browser, browser.find_element(By.ID, "delete-account"))
    assert browser.current_url.endswith("/self-service/step-up")
    assert text_of(browser, "step-up-action") == "Delete your account"
    assert text_of(browser, "step-up-status") == "PENDING"
    pending = bound_phone("approvals")["approvals"]
    assert len(pending) == 1 and "Delete your account" in pending[0]["data"], pending
    assert bound_phone("approve", pending[0]["id"], "--device-id", bound["deviceId"])["status"] == "APPROVED"
    deadline = time.monotonic() + 10
    while not browser.find_elements(By.ID, "step-up-continue") and time.monotonic() < deadline:
        time.sleep(0.3)
        browser.get(server.url("/self-service/step-up"))
    assert text_of(browser, "step-up-status") == "APPROVED"
    click_and_load(browser, browser.find_element(By.ID, "step-up-continue"))

    # Deleted and signed out.
    assert browser.current_url.endswith("/self-service/login?done=deleted"), browser.current_url
    assert "Your account is deleted" in browser.page_source
    assert browser.get_cookie("sa_self") is None
    browser.get(server.url("/self-service"))
    assert browser.current_url.endswith("/self-service/login")
    fill(browser, "username", username)
    fill(browser, "password", "customer password")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert "Username or password is wrong" in browser.page_source
    # The phone's tokens are dead with the account; the username can be registered again.
    assert bound_phone("approvals", check=False).returncode != 0
    created = server.cli("users", "create", "--username", username, "--password", "another password", "--phone", "+4915112345678")
    assert created.get("id") and created["id"] != user_id, created


def sms_count(server, phone: str) -> int:
    """How many SMS went to `phone` so far (data/notifications.jsonl, the file channel)."""
    path = server.workdir / "data" / "notifications.jsonl"
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if json.loads(line)["to"] == phone)


def new_sms(server, phone: str, before: int, timeout: float = 10.0) -> str:
    """The OTP of the first SMS to `phone` after the `before` ones already there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sms_count(server, phone) > before:
            return server.sms_to(phone)
        time.sleep(0.1)
    pytest.fail(f"no new SMS to {phone} within {timeout} s")


def test_password_alone_never_activates_a_device(server):
    """Over real HTTP without a browser: the password signs in, "activate a
    new device" leads to the step-up page — no activation code exists to run a key exchange with."""
    import re
    import requests
    server.cli("apps", "create", "--id", server.unique("attack-app"), "--name", "Attack app")
    username, _ = server.create_user("attack-customer", "customer password")
    session = requests.Session()

    def csrf(page):
        return re.search(r'name="_csrf" value="([^"]+)"', page.text).group(1)

    login = session.get(server.url("/self-service/login"), timeout=10)
    signed_in = session.post(server.url("/self-service/login"), timeout=10, allow_redirects=False,
                             data={"_csrf": csrf(login), "username": username, "password": "customer password"})
    assert signed_in.status_code == 303, signed_in.text
    home = session.get(server.url("/self-service"), timeout=10)
    made = session.post(server.url("/self-service/devices"), data={"_csrf": csrf(home)}, timeout=10, allow_redirects=False)
    assert made.status_code == 303 and made.headers["Location"] == "/self-service/step-up", (made.status_code, made.headers)
    step_up = session.get(server.url("/self-service/step-up"), timeout=10)
    assert 'id="otp"' in step_up.text and "activation-code" not in step_up.text
    assert "activation-code" not in session.get(server.url("/self-service"), timeout=10).text
