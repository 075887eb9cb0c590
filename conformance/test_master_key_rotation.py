"""Master-key rotation while the nodes serve (docs/keys.md).

Two nodes on one database serve with master key A. The rolling procedure of docs/keys.md is
followed: every node learns B (`STRONGAUTH_MASTER_PREVIOUS_KEYS`), then seals with B and still
opens A, then `strongauth keys rotate-master --new-key-file B` re-seals every sealed secret while
tokens are issued and a PowerAuth phone signs, and finally the nodes run with B alone. Through all
of it: tokens issued before keep verifying, a refresh token from before rotates, the phone keeps
signing, and the audit chain verifies. A node given only the old key afterwards cannot start.
"""
import base64
import concurrent.futures
import os
import tempfile
import threading
from pathlib import Path

import pytest
import requests

import cluster
import conftest
from test_backup import refused
from test_powerauth import KNOWLEDGE_FACTORS, Cloud, activated_phone

PASSWORD = "rotation-password-1"


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


def rolling_restart(nodes, **env):
    """One node at a time, so that the other serves meanwhile."""
    for node in nodes:
        node.stop()
        for name, value in env.items():
            if value is None:
                node.env.pop(name, None)
            else:
                node.env[name] = value
        node.start()


def serve_and_sign(server, client, cloud, phone, stop, failures):
    """Traffic during the re-seal: tokens issued and introspected, the phone signing."""
    while not stop.is_set():
        issued = requests.post(server.url("/oauth/token"), auth=client, data={"grant_type": "client_credentials"}, timeout=30)
        if issued.status_code != 200:
            failures.append(f"token: {issued.status_code} {issued.text}")
            continue
        header = phone.sign("POST", "/login", b"{}", KNOWLEDGE_FACTORS)
        if not cloud.verify("POST", "/login", header, b"{}")["signatureValid"]:
            failures.append("a signature of the active phone was refused")


@pytest.fixture
def database():
    if conftest.DATABASE_URL:
        with cluster.scratch_database("sa_rotation") as scratch:
            yield scratch.url
    else:
        yield None


def test_rotate_master_key_while_serving(database):
    workdir = Path(tempfile.mkdtemp(prefix="strongauth-rotation-"))
    key_a, key_b = new_key(), new_key()
    url = database or f"sqlite:{workdir}/data/strongauth.sqlite"
    nodes = cluster.Cluster(workdir, url, 2, STRONGAUTH_MASTER_KEY=key_a)
    nodes.start()
    try:
        client = nodes.create_client("rotation")
        username, _ = nodes.create_user("rotation-user", PASSWORD)
        before = requests.post(nodes.url("/oauth/token"), auth=client, timeout=30, data={
            "grant_type": "password", "username": username, "password": PASSWORD, "scope": "accounts"}).json()
        kids = {key["kid"] for key in requests.get(nodes.url("/.well-known/jwks.json"), timeout=30).json()["keys"]}
        app = nodes.cli("apps", "create", "--id", nodes.unique("rotation-app"))
        integration = nodes.cli("integration-users", "create", "--name", nodes.unique("rotation-int"), "--app", app["applicationId"])
        cloud = Cloud(nodes, integration["name"], integration["password"])
        phone, _ = activated_phone(nodes, app, cloud)

        key_file = workdir / "new-master.key"
        key_file.write_text(key_b + "\n")
        # The rotation refuses a key the nodes were not given: they could not open what it re-seals.
        assert "not configured" in refused(workdir, nodes.env, "keys", "rotate-master", "--new-key-file", str(key_file), "--database", url)

        # Every node learns B, then seals with B and still opens A.
        rolling_restart(nodes.nodes, STRONGAUTH_MASTER_PREVIOUS_KEYS=key_b)
        rolling_restart(nodes.nodes, STRONGAUTH_MASTER_KEY=key_b, STRONGAUTH_MASTER_PREVIOUS_KEYS=key_a)
        nodes.env.update(STRONGAUTH_MASTER_KEY=key_b, STRONGAUTH_MASTER_PREVIOUS_KEYS=key_a)

        stop = threading.Event()
        failures = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            traffic = pool.submit(serve_and_sign, nodes, client, cloud, phone, stop, failures)
            try:
                report = nodes.cli("keys", "rotate-master", "--new-key-file", str(key_file))
            finally:
                stop.set()
                traffic.result()
        assert not failures, failures[:5]
        assert report["remaining"] == 0 and report["oldKeysRemovable"], report
        assert report["resealed"].get("signing_keys.sealed_private_key", 0) >= 1, report
        assert report["resealed"].get("powerauth_activations.sealed_derived_keys", 0) >= 1, report
        assert report["resealed"].get("master_key_roots.sealed_root") == 1, report

        # The old key goes away: B alone from now on.
        rolling_restart(nodes.nodes, STRONGAUTH_MASTER_KEY=key_b, STRONGAUTH_MASTER_PREVIOUS_KEYS=None)
        nodes.env.pop("STRONGAUTH_MASTER_PREVIOUS_KEYS")
        assert {key["kid"] for key in requests.get(nodes.url("/.well-known/jwks.json"), timeout=30).json()["keys"]} == kids
        introspected = requests.post(nodes.url("/oauth/introspect"), auth=client, data={"token": before["access_token"]}, timeout=30).json()
        assert introspected["active"] is True, introspected
        rotated = requests.post(nodes.url("/oauth/token"), auth=client, timeout=30,
                                data={"grant_type": "refresh_token", "refresh_token": before["refresh_token"]})
        assert rotated.status_code == 200, rotated.text
        for _ in range(3):
            assert cloud.verify("POST", "/login", phone.sign("POST", "/login", b"{}", KNOWLEDGE_FACTORS), b"{}")["signatureValid"] is True
        assert nodes.cli("audit", "verify")["intact"] is True
        # Nothing is left to re-seal.
        assert nodes.cli("keys", "rotate-master", "--new-key-file", str(key_file))["resealed"] == {}

        # A node that still has only the old key does not start half-working.
        assert "master key" in refused(workdir, {**nodes.env, "STRONGAUTH_MASTER_KEY": key_a}, "audit", "verify", "--database", url)
    finally:
        nodes.stop()
