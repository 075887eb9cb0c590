"""Behind a real TLS proxy (docs/operations.md, "TLS proxy"): Debian's nginx, run from the package's
own site file (packaging/nginx-strongauth.conf) with a self-signed certificate, in front of
production nodes configured by the package's example configuration (packaging/strongauth.json)
with only hosts, ports and secrets changed — two nodes on PostgreSQL, one on SQLite (one file,
one node; SQLite allowed explicitly).

Over https: the OAuth token flow, a device binding and the self-service sign-in; `iss` and the
metadata's issuer are the https URL, every cookie is `Secure`, HSTS is sent, plain HTTP
redirects. The client connects from 127.0.0.2 (nginx from 127.0.0.1, the example's trusted
proxy) and forges an X-Forwarded-For of its own: the audit log and the rate limits see
127.0.0.2 — neither nginx's address nor the forged one. The paths that must never face the
internet answer 404 through nginx.

Needs nginx (`apt-get install nginx-light`; .ci/run installs it)."""
import contextlib
import datetime
import ipaddress
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from requests.adapters import HTTPAdapter

import cluster
import conftest
from test_devices import Phone

ROOT = conftest.ROOT
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CLIENT = "127.0.0.2"        # the customer's address, as nginx sees it
OTHER_CLIENT = "127.0.0.3"  # another customer
FORGED = "198.51.100.7"     # what the customer claims in its own X-Forwarded-For
RATE_BURST = 40
# An ABN AMRO login challenge (a rate-limited endpoint; an unknown account gets a decoy).
LOGIN = {"accountNumber": "1", "cardNumber": "2", "accessToolUsage": "SOFTTOKEN"}


class SourceAddress(HTTPAdapter):
    """Connects from a chosen loopback address, so that nginx sees a client that is not itself."""

    def __init__(self, source: str, **kwargs):
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(source: str, ca: Path) -> requests.Session:
    session = requests.Session()
    session.mount("https://", SourceAddress(source))
    session.mount("http://", SourceAddress(source))
    session.verify = str(ca)
    # Otherwise REQUESTS_CA_BUNDLE (set on many machines) would win over `verify`, and a proxy
    # variable could route loopback traffic elsewhere.
    session.trust_env = False
    return session


def self_signed_certificate(directory: Path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                     x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def replace_once(text: str, old: str, new: str) -> str:
    """Replaces a line of the example site; fails if the example no longer has it (then this test
    no longer tests the example, and must be told how to)."""
    assert text.count(old) == 1, f"packaging/nginx-strongauth.conf no longer has exactly one {old!r}"
    return text.replace(old, new)


def nginx_site(upstreams, https_port: int, http_port: int, cert: Path, key: Path) -> str:
    site = (ROOT / "packaging" / "nginx-strongauth.conf").read_text()
    site = replace_once(site, "    server 127.0.0.1:8080;\n", "".join(f"    server 127.0.0.1:{port};\n" for port in upstreams))
    site = replace_once(site, "    listen 80;\n", f"    listen 127.0.0.1:{http_port};\n")
    site = replace_once(site, "    listen [::]:80;\n", "")
    site = replace_once(site, "    listen 443 ssl http2;\n", f"    listen 127.0.0.1:{https_port} ssl http2;\n")
    site = replace_once(site, "    listen [::]:443 ssl http2;\n", "")
    site = replace_once(site, "/etc/ssl/certs/auth.bank.example.pem", str(cert))
    site = replace_once(site, "/etc/ssl/private/auth.bank.example.key", str(key))
    return site.replace("server_name auth.bank.example;", "server_name 127.0.0.1;")


@contextlib.contextmanager
def nginx(directory: Path, site: str, https_port: int):
    """nginx in the foreground (`daemon off`), one process (`master_process off`: no worker
    switching to another user, so it runs as whoever runs the suite), everything under `directory`."""
    (directory / "site.conf").write_text(site)
    temp = directory / "temp"
    temp.mkdir()
    (directory / "nginx.conf").write_text(f"""
daemon off;
master_process off;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {directory}/site.conf;
}}
""")
    checked = subprocess.run([NGINX, "-t", "-p", str(directory), "-c", str(directory / "nginx.conf")],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, f"nginx -t refused the example site:\n{checked.stderr}"
    log = open(directory / "nginx.out", "wb")
    process = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf")], stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                requests.get(f"https://127.0.0.1:{https_port}/health", verify=False, timeout=1)
                break
            except requests.RequestException:
                assert process.poll() is None, (directory / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not answer"
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def node_env(workdir: Path, issuer: str, database_url: str) -> dict:
    """The example production configuration (as a file, so that its keys are what is tested), with
    what differs on this machine in the environment, which beats the file."""
    env = conftest._child_env()
    env.update({
        "STRONGAUTH_CONFIG_FILE": str(ROOT / "packaging" / "strongauth.json"),
        "STRONGAUTH_MASTER_KEY": conftest.TEST_MASTER_KEY,
        "STRONGAUTH_ISSUER": issuer,
        "STRONGAUTH_DATA_DIR": str(workdir / "data"),
        # The device binding reads its SMS code from the file channel (allowed explicitly).
        "STRONGAUTH_NOTIFICATIONS_CHANNEL": "file",
        "STRONGAUTH_NOTIFICATIONS_ALLOW_FILE_IN_PRODUCTION": "true",
        "STRONGAUTH_RATE_LIMITS_ADDRESS_BURST": str(RATE_BURST),
        "STRONGAUTH_RATE_LIMITS_ADDRESS_PER_MINUTE": "1",
    })
    if not database_url:
        env["STRONGAUTH_DATABASE_ALLOW_SQLITE_IN_PRODUCTION"] = "true"
    return env


def per_node(env: dict) -> dict:
    """The example's admin, metrics and integration ports, moved to free ones (two nodes, one host)."""
    env = dict(env)
    for name in ("STRONGAUTH_ADMIN_PORT", "STRONGAUTH_METRICS_PORT", "STRONGAUTH_POWERAUTH_INTEGRATION_PORT"):
        env[name] = str(conftest._free_port())
    return env


def cli(workdir: Path, env: dict, database_url: str, *args) -> dict:
    command = [str(conftest.BINARY), *args] + (["--database", database_url] if database_url else [])
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=conftest.CLI_TIMEOUT)
    assert result.returncode == 0, f"strongauth {' '.join(args)}: {result.stderr}"
    return json.loads(result.stdout)


def newest_otp(workdir: Path, phone: str) -> str:
    """The newest OTP to `phone`: the suite's own reader of the file channel, on this work directory."""
    return conftest.Server(workdir, 0, {}, workdir / "server.log").sms_to(phone, timeout=10.0)


@pytest.fixture
def proxied():
    """nginx on https (and a plain-http redirect) in front of the production node(s)."""
    if not conftest.BINARY.exists():
        pytest.fail(f"{conftest.BINARY} does not exist: build it first")
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: apt-get install nginx-light (.ci/run does)")
    workdir = Path(tempfile.mkdtemp(prefix="strongauth-tls-"))
    https_port, http_port = conftest._free_port(), conftest._free_port()
    base = f"https://127.0.0.1:{https_port}"
    cert, key = self_signed_certificate(workdir)
    with contextlib.ExitStack() as stack:
        database_url = ""
        if conftest.DATABASE_URL:
            database_url = stack.enter_context(cluster.scratch_database("sa_tls")).url
        env = node_env(workdir, base, database_url)
        nodes = [cluster.Node(f"tls-{index}", workdir, per_node(env), database_url=database_url)
                 for index in range(2 if database_url else 1)]
        for node in nodes:
            node.start()
            stack.callback(node.stop)
        nginx_directory = workdir / "nginx"
        nginx_directory.mkdir()
        site = nginx_site([node.port for node in nodes], https_port, http_port, cert, key)
        stack.enter_context(nginx(nginx_directory, site, https_port))
        yield {"base": base, "http": f"http://127.0.0.1:{http_port}", "ca": cert, "workdir": workdir, "env": env,
               "database": database_url, "nodes": nodes}
    for node in nodes:
        assert node.process.returncode == 0, node.log_tail()
    shutil.rmtree(workdir, ignore_errors=True)


def test_flows_over_https_see_the_https_issuer_secure_cookies_and_the_clients_address(proxied):
    base, workdir, env, database = proxied["base"], proxied["workdir"], proxied["env"], proxied["database"]
    customer = session_from(CLIENT, proxied["ca"])
    customer.headers["X-Forwarded-For"] = FORGED  # nginx appends the real address after it

    # TLS, HSTS, the version; plain HTTP only redirects.
    health = customer.get(base + "/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    assert health.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    redirect = customer.get(proxied["http"] + "/health", allow_redirects=False, timeout=10)
    assert redirect.status_code == 308 and redirect.headers["Location"].startswith("https://"), redirect.headers

    # The OAuth token flow: the issuer everywhere is the https URL.
    metadata = customer.get(base + "/.well-known/oauth-authorization-server", timeout=10).json()
    assert metadata["issuer"] == base and metadata["token_endpoint"].startswith(base + "/"), metadata
    created = cli(workdir, env, database, "clients", "create", "--id", "shop", "--scopes", "accounts",
                  "--grants", "client_credentials,password,refresh_token")
    shop = ("shop", created["clientSecret"])
    phone_number = "+4915112345678"
    cli(workdir, env, database, "users", "create", "--username", "alice", "--password", "alice-password",
        "--phone", phone_number)
    jwks = customer.get(base + "/.well-known/jwks.json", timeout=10).json()

    def verified(token):
        header = jwt.get_unverified_header(token)
        key = next(jwt.PyJWK(entry) for entry in jwks["keys"] if entry["kid"] == header["kid"])
        return jwt.decode(token, key.key, algorithms=["ES256"], audience="shop", issuer=base)

    machine = customer.post(base + "/oauth/token", auth=shop, data={"grant_type": "client_credentials"}, timeout=10)
    assert machine.status_code == 200, machine.text
    assert verified(machine.json()["access_token"])["iss"] == base
    password = customer.post(base + "/oauth/token", auth=shop, timeout=10,
                             data={"grant_type": "password", "username": "alice", "password": "alice-password"})
    assert password.status_code == 200, password.text
    tokens = password.json()
    assert verified(tokens["access_token"])["iss"] == base
    refreshed = customer.post(base + "/oauth/token", auth=shop, timeout=10,
                              data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text

    # A device binding (Kontist face): key, SMS OTP signed, challenge signed, confirmed token.
    bearer = {"Authorization": "Bearer " + refreshed.json()["access_token"]}
    phone = Phone()
    device = customer.post(base + "/api/user/devices", headers=bearer, timeout=10,
                           json={"name": "iPhone", "key": phone.public_key_hex})
    assert device.status_code == 201, device.text
    device = device.json()
    bound = customer.post(base + f"/api/user/devices/{device['deviceId']}/verify", headers=bearer, timeout=10,
                          json={"challengeId": device["challengeId"], "signature": phone.sign(newest_otp(workdir, phone_number))})
    assert bound.status_code == 204, bound.text
    challenge = customer.post(base + f"/api/user/devices/{device['deviceId']}/challenges", headers=bearer, timeout=10).json()
    confirmed = customer.post(base + f"/api/user/devices/{device['deviceId']}/challenges/{challenge['id']}/verify",
                              headers=bearer, timeout=10, json={"signature": phone.sign(challenge["stringToSign"])})
    assert confirmed.status_code == 200, confirmed.text
    claims = verified(confirmed.json()["token"])
    assert claims["iss"] == base and claims["cnf"] == {"kid": device["deviceId"]}

    # The self-service sign-in: every cookie Secure (and HttpOnly).
    browser = session_from(CLIENT, proxied["ca"])
    login = browser.get(base + "/self-service/login", timeout=10)
    assert login.status_code == 200, login.text[:300]
    csrf = re.search(r'name="_csrf" value="([^"]+)"', login.text).group(1)
    signed_in = browser.post(base + "/self-service/login", allow_redirects=False, timeout=10,
                             data={"_csrf": csrf, "username": "alice", "password": "alice-password"})
    assert signed_in.status_code == 303, signed_in.text[:300]
    cookies = login.raw.headers.getlist("Set-Cookie") + signed_in.raw.headers.getlist("Set-Cookie")
    assert cookies, "the sign-in set no cookie"
    for cookie in cookies:
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert "secure" in attributes and "httponly" in attributes, cookie
    home = browser.get(base + "/self-service", timeout=10)
    assert home.status_code == 200 and "iPhone" in home.text, home.text[:300]

    # The audit log sees the customer's address: not nginx's, not the forged one. A wrong client
    # secret is counted per (client, address) window; a successful sign-in is a record of its own.
    wrong = customer.post(base + "/oauth/token", auth=("shop", "not-the-secret"), timeout=10,
                          data={"grant_type": "client_credentials"})
    assert wrong.status_code == 401, wrong.text
    failures = cli(workdir, env, database, "audit", "failures")
    rows = [row for row in failures["open"] + failures["sealed"] if row.get("subject") == "client:shop"]
    assert [row["sourceAddress"] for row in rows] == [CLIENT], failures
    addresses = audit_addresses(workdir, database)
    assert CLIENT in addresses, addresses
    assert not addresses & {"127.0.0.1", FORGED}, addresses


def audit_addresses(workdir: Path, database: str) -> set:
    """Every source address in the audit log (chained records and the journal not chained yet)."""
    query = ("SELECT source_address FROM audit_events WHERE source_address IS NOT NULL "
             "UNION SELECT source_address FROM audit_journal WHERE source_address IS NOT NULL")
    if database:
        return set(cluster.psql(database, query).split())
    import sqlite3
    with contextlib.closing(sqlite3.connect(workdir / "data" / "strongauth.sqlite", timeout=10)) as connection:
        return {row[0] for row in connection.execute(query)}


def test_rate_limits_key_on_the_clients_address_not_nginxs(proxied):
    """One customer exhausting its bucket leaves another customer behind the same nginx untouched
    (without http.trustedProxies both would share nginx's one bucket)."""
    base = proxied["base"]
    greedy = session_from(CLIENT, proxied["ca"])
    greedy.headers["X-Forwarded-For"] = FORGED
    limit = RATE_BURST * len(proxied["nodes"]) + 5  # each node has its own buckets
    statuses = [greedy.get(base + "/session/loginchallenge", params=LOGIN, timeout=10).status_code for _ in range(limit)]
    assert statuses[0] == 200 and statuses[-1] == 429, statuses
    other = session_from(OTHER_CLIENT, proxied["ca"])
    # The other customer even claims the greedy one's forged address: it is not believed either.
    other.headers["X-Forwarded-For"] = FORGED
    assert other.get(base + "/session/loginchallenge", params=LOGIN, timeout=10).status_code == 200
    assert greedy.get(base + "/session/loginchallenge", params=LOGIN, timeout=10).status_code == 429


def test_paths_that_never_face_the_internet_are_404_through_the_proxy(proxied):
    base = proxied["base"]
    customer = session_from(CLIENT, proxied["ca"])
    for path in ("/admin", "/admin/login", "/admin/assets/app.css", "/metrics", "/openapi.yaml",
                 "/powerauth-cloud/v2/registrations", "/powerauth-cloud/v2/signature/verify"):
        assert customer.get(base + path, timeout=10).status_code == 404, path
    # They are still there for operators, on the nodes' internal listeners.
    node = proxied["nodes"][0]
    admin_port = node.env["STRONGAUTH_ADMIN_PORT"]
    assert requests.get(f"http://127.0.0.1:{admin_port}/admin/login", timeout=10).status_code == 200
    metrics_port = node.env["STRONGAUTH_METRICS_PORT"]
    assert requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).status_code == 200
