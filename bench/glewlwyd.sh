#!/usr/bin/env bash
# The peer row of bench/run.sh: glewlwyd 2.7 (Debian's package, an OAuth 2 / OIDC server in C) set
# up from scratch in DIR on PORT — a SQLite database from the package's own schema, an oauth2
# plugin instance signing ES256 access tokens (like StrongAuth's), one confidential client
# `bench` (secret `bench-secret`) with the client_credentials grant and scope `accounts` —
# configured through glewlwyd's own admin API. Prints the server's PID; logs in DIR/glewlwyd.log.
#   bench/glewlwyd.sh DIR PORT
set -euo pipefail
DIR="$1"
PORT="$2"
command -v glewlwyd >/dev/null || { echo "glewlwyd is not installed (apt-get install glewlwyd)" >&2; exit 1; }
mkdir -p "$DIR"
zcat /usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz | sqlite3 "$DIR/glewlwyd.db"
openssl ecparam -name prime256v1 -genkey -noout -out "$DIR/es256.pem" 2>/dev/null
openssl ec -in "$DIR/es256.pem" -pubout -out "$DIR/es256.pub" 2>/dev/null
python3 - "$DIR" "$PORT" <<'PY'
import json, re, sys
directory, port = sys.argv[1], sys.argv[2]
conf = open("/etc/glewlwyd/glewlwyd.conf").read()
conf = conf.replace('@include "/etc/glewlwyd/glewlwyd-db.conf"', 'database =\n{\n  type = "sqlite3"\n  path = "%s/glewlwyd.db"\n};' % directory)
conf = re.sub(r'(?m)^port=\d+', "port=" + port, conf)
conf = re.sub(r'(?m)^external_url=.*$', 'external_url="http://127.0.0.1:%s"' % port, conf)
conf = conf.replace('log_mode="file"', 'log_mode="console"').replace('log_level="INFO"', 'log_level="WARNING"')
open(directory + "/glewlwyd.conf", "w").write(conf)
plugin = {
    "module": "oauth2-glewlwyd", "name": "glwd", "display_name": "OAuth2", "enabled": True,
    "parameters": {
        "url": "glwd", "jwt-type": "ecdsa", "jwt-key-size": "256",
        "key": open(directory + "/es256.pem").read(), "cert": open(directory + "/es256.pub").read(),
        "access-token-duration": 3600, "refresh-token-duration": 1209600, "code-duration": 600, "refresh-token-rolling": True,
        "auth-type-code-enabled": False, "auth-type-implicit-enabled": False, "auth-type-password-enabled": False,
        "auth-type-client-enabled": True, "auth-type-refresh-enabled": False, "scope": [], "additional-parameters": [],
    },
}
open(directory + "/plugin.json", "w").write(json.dumps(plugin))
PY
glewlwyd --config-file="$DIR/glewlwyd.conf" >"$DIR/glewlwyd.log" 2>&1 &
PID=$!
API="http://127.0.0.1:$PORT/api"
for _ in $(seq 1 100); do curl -s -o /dev/null "$API/auth/scheme/" && break; sleep 0.05; done
JSON=(-H "Content-Type: application/json")
# The package's default administrator (admin / password), then the plugin and the client.
curl -fsS -o /dev/null -c "$DIR/jar" "${JSON[@]}" -d '{"username":"admin","password":"password"}' "$API/auth/"
curl -fsS -o /dev/null -b "$DIR/jar" "${JSON[@]}" -d @"$DIR/plugin.json" "$API/mod/plugin/"
curl -fsS -o /dev/null -b "$DIR/jar" "${JSON[@]}" -d '{"client_id":"bench","name":"bench","description":"","confidential":true,
  "password":"bench-secret","authorization_type":["client_credentials"],"scope":["accounts"],"redirect_uri":[],"enabled":true}' \
  "$API/client/?source=database"
curl -fsS -u bench:bench-secret -d 'grant_type=client_credentials&scope=accounts' "$API/glwd/token" | grep -q '"access_token"' \
  || { echo "glewlwyd does not issue a client_credentials token" >&2; kill "$PID"; exit 1; }
echo "$PID"
