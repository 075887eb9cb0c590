"""`strongauth keys rotate` on a running server (docs/architecture.md): no downtime. A resource server with
pyjwt keeps verifying the tokens signed before the rotation against the JWKS, and verifies the
new key's tokens once the server signs with it; introspection answers active for both."""
import time

import jwt
import requests


def token_of(server, client):
    response = requests.post(server.url("/oauth/token"), auth=client, data={"grant_type": "client_credentials"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_rotation_keeps_old_tokens_valid_and_publishes_the_new_key(server):
    client = server.create_client("rotation")
    issuer = requests.get(server.url("/.well-known/oauth-authorization-server"), timeout=10).json()["issuer"]
    old_token = token_of(server, client)
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    rotated = server.cli("keys", "rotate")
    assert rotated["retiredKids"] == [old_kid] and rotated["activeKid"] != old_kid

    # The running server picks the new key up by itself (SigningKeyRefresher, every 5 s).
    deadline = time.time() + 15
    while True:
        new_token = token_of(server, client)
        if jwt.get_unverified_header(new_token)["kid"] == rotated["activeKid"]:
            break
        assert time.time() < deadline, "the server still signs with the retired key"
        time.sleep(0.5)

    jwks = requests.get(server.url("/.well-known/jwks.json"), timeout=10).json()
    assert {old_kid, rotated["activeKid"]} <= {key["kid"] for key in jwks["keys"]}
    resource_server = jwt.PyJWKClient(server.url("/.well-known/jwks.json"))
    for token in (old_token, new_token):
        key = resource_server.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["ES256"], issuer=issuer, options={"verify_aud": False})
        assert claims["client_id"] == client[0]
        introspected = requests.post(server.url("/oauth/introspect"), auth=client, data={"token": token}, timeout=10).json()
        assert introspected["active"] is True, introspected
