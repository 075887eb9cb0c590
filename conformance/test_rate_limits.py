"""Rate limits on a live server with small limits (issue 7): authlib's token requests and a
`requests` session client get RFC 6585 429 with Retry-After in each face's format, per source
address and per client; the limit recovers with time."""
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from authlib.integrations.requests_client import OAuth2Session

from conftest import BINARY, _free_port

ENV = {key: value for key, value in os.environ.items() if not key.startswith("STRONGAUTH_")}
ENV.update({"STRONGAUTH_PASSWORD_HASH_COST": "4", "STRONGAUTH_RATE_LIMITS_ADDRESS_PER_MINUTE": "12",
            "STRONGAUTH_RATE_LIMITS_ADDRESS_BURST": "5", "STRONGAUTH_RATE_LIMITS_CLIENT_PER_MINUTE": "120",
            "STRONGAUTH_RATE_LIMITS_CLIENT_BURST": "3"})


def test_token_and_login_endpoints_answer_429_with_retry_after():
    workdir = Path(tempfile.mkdtemp(prefix="strongauth-ratelimit-"))

    def cli(*args):
        result = subprocess.run([str(BINARY), *args], cwd=workdir, env=ENV, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    shop = cli("clients", "create", "--id", "shop", "--grants", "client_credentials")
    other = cli("clients", "create", "--id", "other", "--grants", "client_credentials")
    port = _free_port()
    process = subprocess.Popen([str(BINARY), "serve", "--http-port", str(port)], cwd=workdir, env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "server not ready"
            time.sleep(0.1)

        # Per client: authlib's client gets 3 tokens, then 429 (RFC 6749 JSON + Retry-After).
        session = OAuth2Session(shop["clientId"], shop["clientSecret"])
        for _ in range(3):
            assert session.fetch_token(base + "/oauth/token", grant_type="client_credentials")["access_token"]
        refused = requests.post(base + "/oauth/token", auth=(shop["clientId"], shop["clientSecret"]),
                                data={"grant_type": "client_credentials"}, timeout=10)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"] == "temporarily_unavailable" and int(refused.headers["Retry-After"]) >= 1
        # Another client still gets its token (the address bucket still has 1 of 5).
        assert requests.post(base + "/oauth/token", auth=(other["clientId"], other["clientSecret"]),
                             data={"grant_type": "client_credentials"}, timeout=10).status_code == 200

        # Per address, on the login face: 5 challenges, then a 429 in the face's messages shape.
        statuses = [requests.get(base + "/session/loginchallenge", timeout=10,
                                 params={"accountNumber": "1", "cardNumber": "2", "accessToolUsage": "SOFTTOKEN"}).status_code
                    for _ in range(6)]
        assert 429 not in statuses[:5] and statuses[5] == 429, statuses
        limited = requests.get(base + "/session/loginchallenge", timeout=10,
                               params={"accountNumber": "1", "cardNumber": "2", "accessToolUsage": "SOFTTOKEN"})
        assert limited.headers["Content-Type"] == "application/json" and limited.headers["Retry-After"]
        assert limited.json()["messages"][0]["messageKey"] == "MESSAGE_TOO_MANY_REQUESTS"

        # It recovers: the address buckets refill one request per 5 s (slow enough that six
        # requests on a loaded machine are not refilled in between), the client's 2 per second.
        time.sleep(5.5)
        assert requests.post(base + "/oauth/token", auth=(shop["clientId"], shop["clientSecret"]),
                             data={"grant_type": "client_credentials"}, timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(15)
