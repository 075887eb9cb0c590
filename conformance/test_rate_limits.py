"""Rate limits on a live server with small limits (docs/architecture.md): authlib's token requests and a
`requests` session client get RFC 6585 429 with Retry-After in each face's format, per source
address and per client; the limit recovers with time."""
import tempfile
import time
from pathlib import Path

import requests
from authlib.integrations.requests_client import OAuth2Session

import cluster
from conftest import caller_env

ENV = caller_env(STRONGAUTH_PASSWORD_HASH_COST=4, STRONGAUTH_RATE_LIMITS_ADDRESS_PER_MINUTE=12,
                 STRONGAUTH_RATE_LIMITS_ADDRESS_BURST=5, STRONGAUTH_RATE_LIMITS_CLIENT_PER_MINUTE=120,
                 STRONGAUTH_RATE_LIMITS_CLIENT_BURST=3)


def _served(env: dict) -> cluster.Node:
    """`strongauth serve` on a fresh SQLite directory with `env` added (not started yet)."""
    return cluster.Node("ratelimits", Path(tempfile.mkdtemp(prefix="strongauth-ratelimit-")), {**ENV, **env}, database_url="")


def test_token_and_login_endpoints_answer_429_with_retry_after():
    node = _served({})
    shop = node.cli("clients", "create", "--id", "shop", "--grants", "client_credentials")
    other = node.cli("clients", "create", "--id", "other", "--grants", "client_credentials")
    with node:
        base = node.base
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


def _challenges(base, forwarded_for):
    return [requests.get(base + "/session/loginchallenge", timeout=10, headers={"X-Forwarded-For": address},
                         params={"accountNumber": "1", "cardNumber": "2", "accessToolUsage": "SOFTTOKEN"}).status_code
            for address in forwarded_for]


def test_forwarded_addresses_are_believed_only_from_trusted_proxies():
    # Ten different clients behind the proxy (127.0.0.1), 5 requests of burst: none is refused.
    clients = [f"198.51.100.{index}" for index in range(1, 11)]
    with _served({"STRONGAUTH_HTTP_TRUSTED_PROXIES": "127.0.0.1,::1"}) as served:
        assert 429 not in _challenges(served.base, clients)
        # One client still has its own limit, whatever it writes left of the proxy's entry.
        spoofed = [f"203.0.113.{index}, 198.51.100.1" for index in range(6)]
        assert _challenges(served.base, spoofed)[-2:] == [429, 429]
        # Forwarded (RFC 7239) is understood as well.
        forwarded = requests.get(served.base + "/session/loginchallenge", timeout=10,
                                 headers={"Forwarded": 'for="[2001:db8::7]:4711";proto=https'},
                                 params={"accountNumber": "1", "cardNumber": "2", "accessToolUsage": "SOFTTOKEN"})
        assert forwarded.status_code != 429
    # Without the setting the header is ignored: every request is 127.0.0.1's, refused after 5.
    with _served({}) as served:
        statuses = _challenges(served.base, clients)
        assert 429 not in statuses[:5] and statuses[5:] == [429] * 5, statuses


def test_wrong_secrets_under_a_client_id_do_not_spend_its_quota():
    env = {"STRONGAUTH_HTTP_TRUSTED_PROXIES": "127.0.0.1", "STRONGAUTH_RATE_LIMITS_CLIENT_FAILURE_BURST": "3",
           "STRONGAUTH_RATE_LIMITS_CLIENT_FAILURE_PER_MINUTE": "1"}
    with _served(env) as served:
        shop = served.cli("clients", "create", "--id", "shop", "--grants", "client_credentials")
        attacker = {"X-Forwarded-For": "203.0.113.66"}
        guesses = [requests.post(served.base + "/oauth/token", auth=("shop", "guess"), headers=attacker,
                                 data={"grant_type": "client_credentials"}, timeout=10).status_code for _ in range(5)]
        assert guesses == [401, 401, 401, 429, 429], guesses
        # The client, from its own address, still gets its 3 tokens (client burst 3).
        statuses = [requests.post(served.base + "/oauth/token", auth=(shop["clientId"], shop["clientSecret"]),
                                  headers={"X-Forwarded-For": "198.51.100.20"},
                                  data={"grant_type": "client_credentials"}, timeout=10).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429], statuses


def test_sign_in_forms_are_rate_limited():
    with _served({}) as served:
        for path in ["/admin/login", "/self-service/login"]:
            statuses = [requests.post(served.base + path, data={"username": "nobody", "password": "wrong"}, timeout=10,
                                      allow_redirects=False).status_code for _ in range(6)]
            assert 429 not in statuses[:5] and statuses[5] == 429, (path, statuses)
