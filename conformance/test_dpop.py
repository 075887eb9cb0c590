"""DPoP (RFC 9449) against the running server with someone else's client.

requests-oauth2client (PyPI) asks for DPoP-bound tokens (client_credentials and the password
grant), answers the server's nonces itself, and calls StrongAuth's resource endpoints with
`Authorization: DPoP` and its proofs. The bad proofs are built by hand with pyjwt and
cryptography, one fault each. On PostgreSQL a second node shares the database: a proof used on
one node is a replay on the other, and a nonce one node offers is good on the other.
"""
import base64
import hashlib
import json
import secrets
import tempfile
import time
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from requests_oauth2client import DPoPKey, DPoPToken, OAuth2Client

import cluster
import conftest
from test_oauth2 import assert_oauth_error, introspect

PASSWORD = "dpop-password-1"
ALGS = 'algs="ES256 ES384 PS256 RS256 EdDSA"'


# --- helpers ----------------------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ath(token: str) -> str:
    return b64url(hashlib.sha256(token.encode()).digest())


class Prover:
    """An ES256 key that signs proofs, right or wrong in exactly one way."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)

    @property
    def thumbprint(self) -> str:
        canonical = json.dumps({k: self.jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
        return b64url(hashlib.sha256(canonical.encode()).digest())

    def proof(self, htm: str, htu: str, token: str = None, iat: float = None, header: dict = None, alg: str = "ES256",
              key=None, **claims) -> str:
        body = {"jti": secrets.token_urlsafe(12), "htm": htm, "htu": htu, "iat": int(iat if iat is not None else time.time())}
        if token is not None:
            body["ath"] = ath(token)
        body.update(claims)
        headers = {"typ": "dpop+jwt", "jwk": self.jwk}
        headers.update(header or {})
        return jwt.encode(body, key if key is not None else self.key, algorithm=alg, headers=headers)


def oauth_client(base: str, client) -> OAuth2Client:
    return OAuth2Client(
        token_endpoint=base + "/oauth/token", introspection_endpoint=base + "/oauth/introspect",
        client_id=client[0], client_secret=client[1], testing=True)


def challenge_error(response) -> str:
    assert response.status_code == 401, response.text
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("DPoP error=") and challenge.endswith(ALGS), challenge
    return challenge.split('"')[1]


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(server):
    return server.create_client("dpop")


@pytest.fixture(scope="module")
def user(server):
    username, _ = server.create_user("dpop-user", PASSWORD)
    return username


@pytest.fixture
def bound_user_token(server, client, user):
    """A user token bound to a Prover's key, from the password grant with a hand-made proof."""
    prover = Prover()
    response = requests.post(
        server.url("/oauth/token"), auth=client, timeout=10,
        data={"grant_type": "password", "username": user, "password": PASSWORD},
        headers={"DPoP": prover.proof("POST", server.url("/oauth/token"))})
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    return prover, response.json()["access_token"]


# --- requests-oauth2client ------------------------------------------------------------------------

def test_metadata_lists_dpop_algorithms(server):
    metadata = requests.get(server.url("/.well-known/oauth-authorization-server"), timeout=10).json()
    assert metadata["dpop_signing_alg_values_supported"] == ["ES256", "ES384", "PS256", "RS256", "EdDSA"]


def test_client_credentials_bound_token_creates_a_finapi_user(server, client):
    oauth = oauth_client(server.base, client)
    token = oauth.client_credentials(dpop=True)
    assert isinstance(token, DPoPToken) and token.token_type == "DPoP"
    info = introspect(server, client, token.access_token)
    assert info["active"] is True and info["token_type"] == "DPoP"
    assert info["cnf"] == {"jkt": token.dpop_key.dpop_jkt}
    # The bound client token at a resource (finAPI's POST /api/v2/users), proofs by the library.
    username = server.unique("dpop-finapi")
    created = requests.post(server.url("/api/v2/users"), json={"id": username, "password": PASSWORD}, auth=token, timeout=10)
    assert created.status_code == 201, created.text
    # The same token as a bearer token: refused.
    as_bearer = requests.post(server.url("/api/v2/users"), json={"id": server.unique("x"), "password": PASSWORD}, timeout=10,
                              headers={"Authorization": f"Bearer {token.access_token}"})
    assert challenge_error(as_bearer) == "invalid_token"


def test_password_grant_bound_token_lists_devices(server, client, user):
    oauth = oauth_client(server.base, client)
    token = oauth.resource_owner_password(username=user, password=PASSWORD, dpop=True)
    assert isinstance(token, DPoPToken)
    assert jwt.decode(token.access_token, options={"verify_signature": False})["cnf"]["jkt"] == token.dpop_key.dpop_jkt
    for _ in range(2):  # a fresh proof each time
        devices = requests.get(server.url("/api/user/devices"), auth=token, timeout=10)
        assert devices.status_code == 200, devices.text
        assert devices.json() == []
    as_bearer = requests.get(server.url("/api/user/devices"), headers={"Authorization": f"Bearer {token.access_token}"}, timeout=10)
    assert challenge_error(as_bearer) == "invalid_token"
    # Refreshed with a proof by the same key: still bound to it.
    refreshed = oauth.refresh_token(token)
    assert isinstance(refreshed, DPoPToken)
    assert introspect(server, client, refreshed.access_token)["cnf"] == {"jkt": token.dpop_key.dpop_jkt}
    assert requests.get(server.url("/api/user/devices"), auth=refreshed, timeout=10).status_code == 200


def test_unbound_token_with_the_dpop_scheme_is_refused_and_bearer_is_unchanged(server, client, user):
    token = oauth_client(server.base, client).resource_owner_password(username=user, password=PASSWORD)
    assert token.token_type.lower() == "bearer"
    prover = Prover()
    url = server.url("/api/user/devices")
    refused = requests.get(url, timeout=10, headers={
        "Authorization": f"DPoP {token.access_token}", "DPoP": prover.proof("GET", url, token=token.access_token)})
    assert challenge_error(refused) == "invalid_token"
    plain = requests.get(url, headers={"Authorization": f"Bearer {token.access_token}"}, timeout=10)
    assert plain.status_code == 200 and "DPoP-Nonce" not in plain.headers


# --- bad proofs, one fault each -----------------------------------------------------------------------

def stranger_key():
    return ec.generate_private_key(ec.SECP256R1())


BAD_RESOURCE_PROOFS = {
    "typ JWT": lambda p, url, token: p.proof("GET", url, token, header={"typ": "JWT"}),
    "alg none": lambda p, url, token: jwt.encode(
        {"jti": "x", "htm": "GET", "htu": url, "iat": int(time.time()), "ath": ath(token)}, None, algorithm="none",
        headers={"typ": "dpop+jwt", "jwk": p.jwk}),
    "alg HS256": lambda p, url, token: jwt.encode(
        {"jti": "x", "htm": "GET", "htu": url, "iat": int(time.time()), "ath": ath(token)}, "a-shared-secret-of-32-bytes-or-more!",
        algorithm="HS256", headers={"typ": "dpop+jwt", "jwk": {"kty": "oct", "k": b64url(b"a-shared-secret-of-32-bytes-or-more!")}}),
    "private key in jwk": lambda p, url, token: p.proof(
        "GET", url, token, header={"jwk": ECAlgorithm.to_jwk(p.key, as_dict=True)}),
    "wrong htm": lambda p, url, token: p.proof("POST", url, token),
    "wrong htu": lambda p, url, token: p.proof("GET", url.replace("/devices", "/approvals"), token),
    "stale iat": lambda p, url, token: p.proof("GET", url, token, iat=time.time() - 300),
    "future iat": lambda p, url, token: p.proof("GET", url, token, iat=time.time() + 300),
    "wrong ath": lambda p, url, token: p.proof("GET", url, token + "x"),
    "no ath": lambda p, url, token: p.proof("GET", url),
    "another key than cnf.jkt": lambda p, url, token: Prover().proof("GET", url, token),
    "signed by another key than its jwk": lambda p, url, token: p.proof("GET", url, token, key=stranger_key()),
    "not a JWS": lambda p, url, token: "not-a-proof",
}


@pytest.mark.parametrize("fault", BAD_RESOURCE_PROOFS)
def test_bad_proof_at_a_resource_is_refused(server, bound_user_token, fault):
    prover, token = bound_user_token
    url = server.url("/api/user/devices")
    response = requests.get(url, timeout=10, headers={
        "Authorization": f"DPoP {token}", "DPoP": BAD_RESOURCE_PROOFS[fault](prover, url, token)})
    assert challenge_error(response) == "invalid_dpop_proof"
    # The same token with a good proof still works: the refusal spent nothing.
    good = requests.get(url, timeout=10, headers={"Authorization": f"DPoP {token}", "DPoP": prover.proof("GET", url, token)})
    assert good.status_code == 200, good.text


def test_replayed_proof_at_a_resource_is_refused(server, bound_user_token):
    prover, token = bound_user_token
    url = server.url("/api/user/devices")
    headers = {"Authorization": f"DPoP {token}", "DPoP": prover.proof("GET", url, token)}
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    assert challenge_error(requests.get(url, headers=headers, timeout=10)) == "invalid_dpop_proof"


@pytest.mark.parametrize("fault", ["wrong htu", "wrong htm", "stale iat", "typ JWT", "private key in jwk", "replayed jti"])
def test_bad_proof_at_the_token_endpoint_is_refused(server, client, fault):
    prover = Prover()
    url = server.url("/oauth/token")
    proofs = {
        "wrong htu": lambda: prover.proof("POST", server.url("/api/v2/oauth/token")),
        "wrong htm": lambda: prover.proof("GET", url),
        "stale iat": lambda: prover.proof("POST", url, iat=time.time() - 300),
        "typ JWT": lambda: prover.proof("POST", url, header={"typ": "JWT"}),
        "private key in jwk": lambda: prover.proof("POST", url, header={"jwk": ECAlgorithm.to_jwk(prover.key, as_dict=True)}),
    }
    if fault == "replayed jti":
        proof = prover.proof("POST", url)
        first = requests.post(url, auth=client, data={"grant_type": "client_credentials"}, headers={"DPoP": proof}, timeout=10)
        assert first.status_code == 200, first.text
    else:
        proof = proofs[fault]()
    response = requests.post(url, auth=client, data={"grant_type": "client_credentials"}, headers={"DPoP": proof}, timeout=10)
    body = assert_oauth_error(response, 400, "invalid_dpop_proof")
    assert "access_token" not in body
    assert response.headers.get("DPoP-Nonce")


# --- nonces ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nonce_node():
    """A node of its own (SQLite) that requires server nonces."""
    workdir = Path(tempfile.mkdtemp(prefix="strongauth-dpop-nonce-"))
    workdir.mkdir(parents=True, exist_ok=True)
    node = cluster.Cluster(workdir, f"sqlite:{workdir}/data/strongauth.sqlite", 1, STRONGAUTH_OAUTH_DPOP_REQUIRE_NONCE="true")
    node.start()
    try:
        yield node
    finally:
        codes = node.stop()
    assert codes == [0], f"the nonce node did not stop cleanly: {codes}\n{node.logs()}"


def test_required_nonce_is_asked_for_and_answered(nonce_node):
    client = nonce_node.create_client("dpop-nonce")
    username, _ = nonce_node.create_user("dpop-nonce-user", PASSWORD)
    prover = Prover()
    url = nonce_node.base + "/oauth/token"
    data = {"grant_type": "password", "username": username, "password": PASSWORD}
    first = requests.post(url, auth=client, data=data, headers={"DPoP": prover.proof("POST", url)}, timeout=10)
    assert_oauth_error(first, 400, "use_dpop_nonce")
    nonce = first.headers["DPoP-Nonce"]
    second = requests.post(url, auth=client, data=data, headers={"DPoP": prover.proof("POST", url, nonce=nonce)}, timeout=10)
    assert second.status_code == 200, second.text
    token = second.json()["access_token"]
    devices = nonce_node.base + "/api/user/devices"
    without = requests.get(devices, headers={"Authorization": f"DPoP {token}", "DPoP": prover.proof("GET", devices, token)}, timeout=10)
    assert challenge_error(without) == "use_dpop_nonce"
    fresh = without.headers["DPoP-Nonce"]
    with_nonce = requests.get(devices, timeout=10, headers={
        "Authorization": f"DPoP {token}", "DPoP": prover.proof("GET", devices, token, nonce=fresh)})
    assert with_nonce.status_code == 200, with_nonce.text
    forged = requests.get(devices, timeout=10, headers={
        "Authorization": f"DPoP {token}", "DPoP": prover.proof("GET", devices, token, nonce=fresh[:-2] + ("AA" if fresh[-2:] != "AA" else "BA"))})
    assert challenge_error(forged) == "use_dpop_nonce"


def test_requests_oauth2client_follows_the_nonces_by_itself(nonce_node):
    client = nonce_node.create_client("dpop-nonce-lib")
    username, _ = nonce_node.create_user("dpop-nonce-lib-user", PASSWORD)
    oauth = oauth_client(nonce_node.base, client)
    token = oauth.resource_owner_password(username=username, password=PASSWORD, dpop=True, dpop_key=DPoPKey.generate())
    assert isinstance(token, DPoPToken)
    devices = requests.get(nonce_node.base + "/api/user/devices", auth=token, timeout=10)
    assert devices.status_code == 200, devices.text


# --- two nodes on one PostgreSQL ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def peer(server):
    """A second node on the session's database (PostgreSQL only), with the same issuer, requiring nonces."""
    if not conftest.DATABASE_URL:
        pytest.skip("two nodes on one database need PostgreSQL (STRONGAUTH_TEST_DATABASE_URL)")
    node = cluster.Node("dpop-peer", server.workdir, cluster.peer_env(server, STRONGAUTH_OAUTH_DPOP_REQUIRE_NONCE="true"))
    node.start()
    try:
        yield node
    finally:
        code = node.stop()
    assert code == 0, f"the peer did not stop cleanly: {code}\n{node.log_tail()}"


def test_a_proof_used_on_one_node_is_a_replay_on_the_other(server, peer, bound_user_token, client):
    prover, token = bound_user_token
    # The proof names the issuer's URL (the public URL behind the proxy), whichever node serves it.
    url = server.url("/api/user/devices")
    nonce = requests.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": "x"}, timeout=10).headers["DPoP-Nonce"]
    headers = {"Authorization": f"DPoP {token}", "DPoP": prover.proof("GET", url, token, nonce=nonce)}
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    assert challenge_error(requests.get(peer.url("/api/user/devices"), headers=headers, timeout=10)) == "invalid_dpop_proof"
    # At the token endpoint too: the proof the peer accepted is refused by the first node.
    token_url = server.url("/oauth/token")
    proof = prover.proof("POST", token_url, nonce=nonce)
    first = requests.post(peer.url("/oauth/token"), auth=client, data={"grant_type": "client_credentials"}, headers={"DPoP": proof},
                          timeout=10)
    assert first.status_code == 200, first.text
    again = requests.post(token_url, auth=client, data={"grant_type": "client_credentials"}, headers={"DPoP": proof}, timeout=10)
    assert_oauth_error(again, 400, "invalid_dpop_proof")


def test_a_nonce_from_one_node_is_good_on_the_other(server, peer, bound_user_token):
    prover, token = bound_user_token
    url = server.url("/api/user/devices")
    # The peer requires a nonce; the first node (which does not) offers one with its refusal.
    refused = requests.get(peer.url("/api/user/devices"), timeout=10,
                           headers={"Authorization": f"DPoP {token}", "DPoP": prover.proof("GET", url, token)})
    assert challenge_error(refused) == "use_dpop_nonce"
    nonce = requests.get(url, headers={"Authorization": f"DPoP {token}"}, timeout=10).headers["DPoP-Nonce"]
    accepted = requests.get(peer.url("/api/user/devices"), timeout=10,
                            headers={"Authorization": f"DPoP {token}", "DPoP": prover.proof("GET", url, token, nonce=nonce)})
    assert accepted.status_code == 200, accepted.text
