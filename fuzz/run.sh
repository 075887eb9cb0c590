#!/bin/bash
# fuzz/run.sh SECONDS: builds the WebAuthn libFuzzer target (fuzz/webauthn/) with -sanitize=fuzzer,address
# and runs it for SECONDS (default 60), seeded with the WebAuthn test vectors.
#
# The StrongAuthProtocol WebAuthn sources are compiled instrumented into the fuzz binary; swift-crypto and
# swift-certificates are linked from the ordinary debug build (not instrumented: coverage guides through our
# decoders, not theirs). Not part of scripts/test or CI: the property tests in
# Tests/StrongAuthProtocolTests/WebAuthnPropertyTests.swift are the CI guard. Findings land in
# .build/fuzz/artifacts/ (crash-*, leak-*, timeout-*); replay one with `.build/fuzz/webauthn FILE`.
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
bin=.build/debug
work=.build/fuzz
mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"

# 1. The dependencies, as the package builds them.
swift build --target StrongAuthProtocol >/dev/null

# 2. The fuzz target: the harness and the WebAuthn sources in one instrumented module.
dependencies=(Crypto CryptoExtras _CryptoExtras CryptoBoringWrapper CCryptoBoringSSL CCryptoBoringSSLShims CXKCP CXKCPShims
    SwiftASN1 X509 _CertificateInternals)
objects=()
for dependency in "${dependencies[@]}"; do
    mapfile -d '' -O "${#objects[@]}" objects < <(find "$bin/$dependency.build" -name '*.o' -print0)
done
swiftc -sanitize=fuzzer,address -parse-as-library -g -module-name WebAuthnFuzz -I "$bin/Modules" \
    fuzz/webauthn/WebAuthnFuzzTarget.swift Sources/StrongAuthProtocol/WebAuthn/*.swift \
    Sources/StrongAuthProtocol/Encoding/Base64URL.swift Sources/StrongAuthProtocol/Secrets/ConstantTime.swift \
    "${objects[@]}" -o "$work/webauthn" 2> >(grep -v "Cannot export local symbol" >&2)

# 3. Seeds: every vector of the Swift tests, prefixed with the harness's selector byte.
"$python" - "$work/seeds" Tests/StrongAuthProtocolTests/WebAuthnVectors.swift Tests/StrongAuthProtocolTests/PackedAttestationVectors.swift <<'PY'
import base64, hashlib, re, sys
import cbor2
out, files = sys.argv[1], sys.argv[2:]
def b64u(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def write(selector, data):
    blob = bytes([selector]) + data
    open(f"{out}/{hashlib.sha1(blob).hexdigest()}", "wb").write(blob)
for path in files:
    for field, pieces in re.findall(r'(\w+):\s*((?:"[^"]*"\s*(?:\+\s*)?)+)', open(path).read()):
        value = b64u("".join(re.findall(r'"([^"]*)"', pieces)))
        if field == "attestationObject":
            write(0, value); write(3, value)
            object = cbor2.loads(value)
            write(1, object["authData"])
            for certificate in object["attStmt"].get("x5c", []):
                if isinstance(certificate, bytes): write(5, certificate)
        elif field == "credentialPublicKey":
            write(0, value); write(2, value)
        elif field == "authenticatorData":
            write(1, value); write(4, value)
PY

# 4. Run: one job (the machine is shared), at low priority.
echo "seeds: $(ls "$work/seeds" | wc -l), running ${seconds}s"
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" nice -n 10 "$work/webauthn" "$work/corpus" "$work/seeds" \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/"
