"""A promised SMS OTP survives `kill -9`: the server that promised it dies before it could be
delivered (its SMS gateway refuses), and the next server on the same data delivers it."""
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import cluster
from conftest import caller_env

ENV = caller_env(STRONGAUTH_PASSWORD_HASH_COST=4)


def test_promised_otp_is_sent_after_kill_9():
    workdir = Path(tempfile.mkdtemp(prefix="strongauth-durability-"))
    client = cluster.cli(workdir, ENV, "", "clients", "create", "--id", "app", "--scopes", "accounts", "--grants", "password")
    cluster.cli(workdir, ENV, "", "users", "create", "--username", "eve", "--password", "eve-password", "--phone", "+4915199999999")

    # Server A: its SMS gateway refuses every delivery.
    server_a = cluster.Node("a", workdir, {**ENV, "STRONGAUTH_NOTIFICATIONS_CHANNEL": "http",
                                           "STRONGAUTH_NOTIFICATIONS_HTTP_URL": "http://127.0.0.1:9/sms"}, database_url="")
    server_a.start()
    try:
        base = server_a.base
        token = requests.post(base + "/oauth/token", auth=(client["clientId"], client["clientSecret"]),
                              data={"grant_type": "password", "username": "eve", "password": "eve-password"}).json()["access_token"]
        key = ec.generate_private_key(ec.SECP256R1())
        public_hex = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint).hex()
        created = requests.post(base + "/api/user/devices", headers={"Authorization": "Bearer " + token},
                                json={"name": "Pixel", "key": public_hex})
        assert created.status_code == 201, created.text
        device = created.json()

        # Wait until A has tried and failed to deliver (the row is back in backoff, not held by a
        # 30 s delivery lease), then kill it without warning.
        database = sqlite3.connect(workdir / "data" / "strongauth.sqlite")
        deadline = time.monotonic() + 20  # a refused gateway fails after the 5 s delivery timeout
        while True:
            row = database.execute("SELECT attempts, next_attempt_at FROM notifications WHERE status = 'pending'").fetchone()
            if row and row[0] >= 1 and row[1] - time.time() * 1000 < 5000:
                break
            assert time.monotonic() < deadline, "server A never tried to deliver"
            time.sleep(0.02)
        database.close()
    finally:
        server_a.kill()
    assert not (workdir / "data" / "notifications.jsonl").exists(), "nothing was delivered before the crash"

    # Server B: the zero-config file channel. It must deliver what A promised.
    server_b = cluster.Node("b", workdir, ENV, database_url="").start()
    try:
        path = workdir / "data" / "notifications.jsonl"
        deadline = time.monotonic() + 45  # at worst A held a 30 s delivery lease when it died
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.exists(), "the promised SMS never arrived after the restart"
        record = json.loads(path.read_text().splitlines()[-1])
        assert record["to"] == "+4915199999999"
        otp = record["message"].split(" is ")[1][:6]

        base = server_b.base
        token = requests.post(base + "/oauth/token", auth=(client["clientId"], client["clientSecret"]),
                              data={"grant_type": "password", "username": "eve", "password": "eve-password"}).json()["access_token"]
        verified = requests.post(base + f"/api/user/devices/{device['deviceId']}/verify",
                                 headers={"Authorization": "Bearer " + token},
                                 json={"challengeId": device["challengeId"],
                                       "signature": key.sign(otp.encode(), ec.ECDSA(hashes.SHA256())).hex()})
        assert verified.status_code == 204, verified.text
    finally:
        assert server_b.stop() == 0, server_b.log_tail()
