#!/usr/bin/env bash
# Creates COUNT finAPI process tokens (a multiple of 100; 100 a request through
# POST /api/v1/processes with the client's credentials) and prints their exchange paths,
# /api/v1/processes/<token>, one per line — for prepared_gets.lua (the process rows of
# bench/run.sh and bench/duo.sh). TAG prefixes the client references.
#   bench/process_tokens.sh BASE_URL CLIENT_ID CLIENT_SECRET COUNT TAG
set -euo pipefail
[[ $# -eq 5 ]] || { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
base="$1" id="$2" secret="$3" count="$4" tag="$5"
for ((batch = 0; batch < count / 100; batch++)); do
  python3 -c 'import json, sys
print(json.dumps({"clientId": sys.argv[1], "clientSecret": sys.argv[2], "processId": "BENCH",
                  "clientReferences": [{"clientReference": f"{sys.argv[3]}-{i}"} for i in range(100)]}))' \
    "$id" "$secret" "$tag-$batch" \
    | curl -fsS -H 'Content-Type: application/json' --data-binary @- "$base/api/v1/processes" \
    | python3 -c 'import json, sys
for process in json.load(sys.stdin)["processes"]: print("/api/v1/processes/" + process["processToken"])'
done
