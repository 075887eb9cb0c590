"""The credential lifecycle over two nodes on one database (docs/admin-api.md).

A second `strongauth serve` runs beside the session's server (the same SQLite file, or the same
PostgreSQL). Every change is made through one node's `/admin/v1` — or through the CLI — and must
hold on the other node with the very next request: the database decides on every request, no node
caches a client, a secret or a status.
"""
import subprocess

import requests

import conftest
from test_powerauth_two_nodes import second_node  # noqa: F401 (fixture)


def admin_token(server, base):
    """A fresh admin client (the start-up banner's advice) and its access token from node `base`."""
    client_id, secret = server.create_client("admin", scopes="admin", grants="client_credentials")
    response = requests.post(base + "/oauth/token", auth=(client_id, secret),
                             data={"grant_type": "client_credentials", "scope": "admin"}, timeout=10)
    assert response.status_code == 200, response.text
    return client_id, {"Authorization": "Bearer " + response.json()["access_token"]}


def client_token(base, client_id, secret):
    return requests.post(base + "/oauth/token", auth=(client_id, secret),
                         data={"grant_type": "client_credentials"}, timeout=10)


def test_disable_on_one_node_is_refused_on_the_other_at_once(server, second_node):  # noqa: F811
    node_a, node_b = server.base, second_node
    _, admin = admin_token(server, node_a)
    shop, secret = server.create_client("shop")
    issued = client_token(node_b, shop, secret)
    assert issued.status_code == 200
    access = issued.json()["access_token"]

    disabled = requests.post(f"{node_a}/admin/v1/clients/{shop}/disable", headers=admin, timeout=10)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["status"] == "disabled"
    refused = client_token(node_b, shop, secret)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    introspected = requests.post(node_b + "/oauth/introspect", auth=(shop, secret), data={"token": access}, timeout=10)
    assert introspected.status_code == 401  # the disabled client cannot even ask
    _, resource = admin_token(server, node_b)
    assert requests.get(f"{node_b}/admin/v1/clients/{shop}", headers=resource, timeout=10).json()["status"] == "disabled"

    assert requests.post(f"{node_b}/admin/v1/clients/{shop}/enable", headers=resource, timeout=10).status_code == 200
    assert client_token(node_a, shop, secret).status_code == 200


def test_rotated_secret_old_refused_new_accepted_on_both_nodes(server, second_node):  # noqa: F811
    node_a, node_b = server.base, second_node
    _, admin = admin_token(server, node_a)
    shop, old = server.create_client("shop")
    assert client_token(node_b, shop, old).status_code == 200
    rotated = requests.post(f"{node_a}/admin/v1/clients/{shop}/rotate-secret", headers=admin, timeout=10)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    for base in (node_a, node_b):
        assert client_token(base, shop, old).status_code == 401
        assert client_token(base, shop, new).status_code == 200


def test_admin_api_problems_and_realm_scope(server, second_node):  # noqa: F811
    _, admin = admin_token(server, server.base)
    missing = requests.post(server.base + "/admin/v1/clients/no-such-client/disable", headers=admin, timeout=10)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    assert requests.get(second_node + "/admin/v1/clients", timeout=10).status_code == 401
    realm = server.unique("tenant").lower()
    server.cli("realms", "create", "--id", realm)
    theirs = server.cli("clients", "create", "--id", server.unique("their-admin"), "--scopes", "admin", "--realm", realm)
    token = requests.post(second_node + "/oauth/token", auth=(theirs["clientId"], theirs["clientSecret"]),
                          data={"grant_type": "client_credentials", "scope": "admin"}, timeout=10).json()["access_token"]
    shop, _ = server.create_client("shop")
    other = {"Authorization": "Bearer " + token}
    assert requests.post(f"{second_node}/admin/v1/clients/{shop}/disable", headers=other, timeout=10).status_code == 404
    assert requests.get(f"{server.base}/admin/v1/clients/{shop}", headers=admin, timeout=10).json()["status"] == "active"


def test_cli_lifecycle_takes_effect_on_every_node(server, second_node):  # noqa: F811
    shop, secret = server.create_client("shop")
    assert server.cli("clients", "disable", "--id", shop)["status"] == "disabled"
    for base in (server.base, second_node):
        assert client_token(base, shop, secret).status_code == 401
    assert server.cli("clients", "enable", "--id", shop)["status"] == "active"
    new = server.cli("clients", "rotate-secret", "--id", shop)["secret"]
    assert client_token(second_node, shop, secret).status_code == 401
    assert client_token(second_node, shop, new).status_code == 200
    assert shop in [c["clientId"] for c in server.cli("clients", "list")["clients"]]
    assert server.cli("clients", "show", "--id", shop)["clientId"] == shop

    # A user with a refresh token; the client's deletion revokes it in the same transaction.
    username, _ = server.create_user("alice", "correct horse")
    login = requests.post(second_node + "/oauth/token", auth=(shop, new), data={
        "grant_type": "password", "username": username, "password": "correct horse"}, timeout=10).json()
    assert server.cli("clients", "delete", "--id", shop)["deleted"] == shop
    refreshed = requests.post(server.base + "/oauth/token", auth=(shop, new), data={
        "grant_type": "refresh_token", "refresh_token": login["refresh_token"]}, timeout=10)
    assert refreshed.status_code in (400, 401)
    again = subprocess.run([str(conftest.BINARY), "clients", "create", "--id", shop, *conftest._database_args()],
                           cwd=server.workdir, env=server.env, capture_output=True, text=True, timeout=conftest.CLI_TIMEOUT)
    assert again.returncode != 0 and "already exists" in again.stderr

    # Users: lock refuses the password grant on the other node at once; unlock restores it.
    other, other_secret = server.create_client("shop")
    assert server.cli("users", "lock", "--username", username)["status"] == "disabled"
    grant = {"grant_type": "password", "username": username, "password": "correct horse"}
    assert requests.post(second_node + "/oauth/token", auth=(other, other_secret), data=grant, timeout=10).status_code != 200
    assert server.cli("users", "unlock", "--username", username)["status"] == "active"
    assert requests.post(second_node + "/oauth/token", auth=(other, other_secret), data=grant, timeout=10).status_code == 200

    # Operators: a TOTP reset prints the new secret once.
    olga = server.unique("olga")
    server.cli("operators", "create", "--username", olga)
    reset = server.cli("operators", "reset-totp", "--username", olga)
    assert reset["otpauthUri"].startswith("otpauth://") and reset["secret"]
    assert server.cli("operators", "disable", "--username", olga)["status"] == "disabled"
