"""private_key_jwt client authentication (RFC 7523 §2.2, FAPI 2.0 §5.3.2.1), driven by authlib's
`PrivateKeyJWT` (the client auth integrators run) with keys made by `cryptography`; pyjwt builds
the assertions that must be refused. One client per signing algorithm: jwt-kit on our side must
read every key type a client registers (EC, RSA, OKP)."""
import json
import time
import uuid

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc.jwk import ECKey, OKPKey, RSAKey
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

import cluster
import conftest
from test_oauth2 import assert_oauth_error, assert_successful_token_response, introspect

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def new_key(alg: str):
    """(private key PEM, public JWK) for `alg`."""
    if alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        public_jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    elif alg in ("RS256", "PS256"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    elif alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        public_jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    else:
        raise ValueError(alg)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem, public_jwk


def register(server, name: str, jwks: dict, grants: str = "client_credentials") -> str:
    client_id = server.unique(name)
    path = server.workdir / f"{client_id}.jwks.json"
    path.write_text(json.dumps(jwks))
    created = server.cli("clients", "create", "--id", client_id, "--scopes", "accounts", "--grants", grants, "--jwks", str(path))
    assert created["clientId"] == client_id, created
    assert "clientSecret" not in created, "a private_key_jwt client must not get a secret"
    assert created["tokenEndpointAuthMethod"] == "private_key_jwt", created
    return client_id


def assertion(key_pem, client_id: str, aud: str, alg: str = "ES256", **overrides) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, key_pem, algorithm=alg)


def post_assertion(server, token_assertion: str, path: str = "/oauth/token", **data):
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": token_assertion}
    form.update(data)
    return requests.post(server.url(path), data=form, timeout=10)


@pytest.fixture
def es256_client(server):
    """A fresh client per test: refusals are charged to the (client, address) failure bucket
    (docs/security-model.md), which one module's worth of refusals would exhaust."""
    pem, jwk = new_key("ES256")
    jwk["kid"] = "k1"
    return register(server, "pkjwt", {"keys": [jwk]}), pem


@pytest.mark.parametrize("alg", ["ES256", "PS256", "RS256", "EdDSA"])
def test_rfc7523_2_2_authlib_private_key_jwt_client_credentials(server, alg):
    pem, jwk = new_key(alg)
    client_id = register(server, f"pkjwt-{alg.lower()}", {"keys": [jwk]})  # no kid: the server tries every key
    token_endpoint = server.url("/oauth/token")
    key = {"ES256": ECKey, "PS256": RSAKey, "RS256": RSAKey, "EdDSA": OKPKey}[alg].import_key(pem)
    session = OAuth2Session(client_id, key, token_endpoint_auth_method=PrivateKeyJWT(token_endpoint, alg=alg))
    token = session.fetch_token(token_endpoint, grant_type="client_credentials", scope="accounts")
    assert token["access_token"] and token["scope"] == "accounts"


def test_metadata_names_private_key_jwt_and_its_algorithms(server):
    metadata = requests.get(server.url("/.well-known/oauth-authorization-server"), timeout=10).json()
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    algs = set(metadata["token_endpoint_auth_signing_alg_values_supported"])
    assert {"ES256", "PS256", "EdDSA"} <= algs and not any(alg.startswith("HS") for alg in algs)


def test_rfc7523_3_aud_is_issuer_or_token_endpoint(server, es256_client):
    client_id, pem = es256_client
    for aud in (server.base, server.url("/oauth/token")):
        assert_successful_token_response(post_assertion(server, assertion(pem, client_id, aud)))
    assert_oauth_error(post_assertion(server, assertion(pem, client_id, "https://elsewhere.example")), 401, "invalid_client")


def test_rfc7523_3_jti_is_single_use(server, es256_client):
    client_id, pem = es256_client
    once = assertion(pem, client_id, server.base)
    assert_successful_token_response(post_assertion(server, once))
    assert_oauth_error(post_assertion(server, once), 401, "invalid_client")


@pytest.mark.parametrize("flaw", ["expired", "too_long", "iss_not_sub", "no_jti", "unknown_key", "client_secret_jwt", "alg_none"])
def test_rfc7523_3_refusals(server, es256_client, flaw):
    client_id, pem = es256_client
    now = int(time.time())
    if flaw == "expired":
        token = assertion(pem, client_id, server.base, exp=now - 5)
    elif flaw == "too_long":
        token = assertion(pem, client_id, server.base, exp=now + 3600 + 120)
    elif flaw == "iss_not_sub":
        token = assertion(pem, client_id, server.base, iss="someone-else")
    elif flaw == "no_jti":
        token = assertion(pem, client_id, server.base, jti=None)
    elif flaw == "unknown_key":
        other, _ = new_key("ES256")
        token = assertion(other, client_id, server.base)
    elif flaw == "client_secret_jwt":
        token = jwt.encode({"iss": client_id, "sub": client_id, "aud": server.base, "exp": now + 60, "jti": str(uuid.uuid4())},
                           "a shared secret that is long enough for HS256", algorithm="HS256")
    else:
        header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
        body = jwt.utils.base64url_encode(json.dumps(
            {"iss": client_id, "sub": client_id, "aud": server.base, "exp": now + 60, "jti": str(uuid.uuid4())}).encode()).decode()
        token = f"{header}.{body}."
    assert_oauth_error(post_assertion(server, token), 401, "invalid_client")


def test_rfc6749_2_3_one_method_only(server, es256_client):
    client_id, pem = es256_client
    response = post_assertion(server, assertion(pem, client_id, server.base), client_secret="anything")
    assert_oauth_error(response, 400, "invalid_request")
    # A private_key_jwt client has no secret to fall back on.
    response = requests.post(server.url("/oauth/token"), data={"grant_type": "client_credentials"},
                             auth=(client_id, ""), timeout=10)
    assert_oauth_error(response, 401, "invalid_client")


def test_rfc7662_introspection_with_an_assertion(server, es256_client):
    client_id, pem = es256_client
    issued = assert_successful_token_response(post_assertion(server, assertion(pem, client_id, server.base)))
    response = requests.post(server.url("/oauth/introspect"), timeout=10, data={
        "token": issued["access_token"], "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(pem, client_id, server.url("/oauth/introspect"))})
    assert response.status_code == 200, response.text
    assert response.json()["active"] is True


@pytest.mark.skipif(not conftest.DATABASE_URL, reason="two nodes share one database on PostgreSQL only")
def test_jti_single_use_across_two_nodes(server, es256_client):
    """The jti is remembered in the database: an assertion used on one node is refused by another,
    also when both receive it at the same moment."""
    import concurrent.futures
    client_id, pem = es256_client
    with cluster.Node("pkjwt-peer", server.workdir, cluster.peer_env(server)) as peer:
        once = assertion(pem, client_id, server.base)
        assert_successful_token_response(post_assertion(server, once))
        assert_oauth_error(requests.post(peer.url("/oauth/token"), timeout=10, data={
            "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": once}),
            401, "invalid_client")
        racing = assertion(pem, client_id, server.base)
        bases = [server.base, peer.base] * 4

        def attempt(base):
            return requests.post(base + "/oauth/token", timeout=10, data={
                "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": racing}).status_code

        with concurrent.futures.ThreadPoolExecutor(len(bases)) as pool:
            codes = list(pool.map(attempt, bases))
        assert sorted(codes) == [200] + [401] * (len(bases) - 1), codes


def test_admin_api_registers_private_key_jwt_and_public_clients(server):
    """/admin/v1/clients takes the same registration as `clients create`: no secret is issued
    to a private_key_jwt or a public client, and the view names how each authenticates."""
    from test_admin_api import admin_token
    _, admin = admin_token(server, server.base)
    pem, jwk = new_key("ES256")
    key_client = server.unique("admin-pkjwt")
    created = requests.post(server.url("/admin/v1/clients"), headers=admin, timeout=10, json={
        "clientId": key_client, "grants": ["client_credentials"], "scopes": ["accounts"], "jwks": {"keys": [jwk]}})
    assert created.status_code == 201, created.text
    assert "clientSecret" not in created.json()
    assert created.json()["client"]["tokenEndpointAuthMethod"] == "private_key_jwt"
    assert_successful_token_response(post_assertion(server, assertion(pem, key_client, server.base)))

    app = server.unique("admin-public")
    created = requests.post(server.url("/admin/v1/clients"), headers=admin, timeout=10, json={
        "clientId": app, "grants": ["authorization_code", "refresh_token"], "public": True,
        "redirectUris": ["com.example.bank:/cb"], "acr": "urn:strongauth:acr:2fa"})
    assert created.status_code == 201, created.text
    shown = requests.get(server.url(f"/admin/v1/clients/{app}"), headers=admin, timeout=10).json()
    assert shown["tokenEndpointAuthMethod"] == "none" and shown["redirectUris"] == ["com.example.bank:/cb"], shown
    assert shown["acr"] == "urn:strongauth:acr:2fa"

    # A private key in the set, or a public client with client_credentials, is a 400 naming the field.
    private = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1())))
    refused = requests.post(server.url("/admin/v1/clients"), headers=admin, timeout=10, json={
        "clientId": server.unique("admin-bad"), "grants": ["client_credentials"], "jwks": {"keys": [private]}})
    assert refused.status_code == 400 and "jwks" in refused.text, refused.text
    refused = requests.post(server.url("/admin/v1/clients"), headers=admin, timeout=10, json={
        "clientId": server.unique("admin-bad"), "grants": ["client_credentials"], "public": True})
    assert refused.status_code == 400 and "grants" in refused.text, refused.text
