# StrongAuth in a container: it only installs the tarball that scripts/package built and CI tested
# (no Swift toolchain, no build in here). No Docker engine runs where StrongAuth is developed and
# tested, so this image is built elsewhere, from the dist/ directory as context:
#
#   scripts/package                       # dist/strongauth-<version>-linux-<arch>.tar.gz
#   docker build -f Dockerfile --build-arg VERSION=<version> --build-arg ARCH=$(uname -m) -t strongauth:<version> dist/
#
# Run it with the secrets in the environment (docs/operations.md, "Docker"):
#   docker run -p 8080:8080 -e STRONGAUTH_MASTER_KEY=… -e STRONGAUTH_DATABASE_URL=postgres://… \
#     -e STRONGAUTH_ISSUER=https://auth.bank.example -e STRONGAUTH_HTTP_TRUSTED_PROXIES=10.0.0.0/8 strongauth:<version>
FROM debian:12-slim

ARG VERSION=1.0.0
ARG ARCH=x86_64

# The Swift runtime is linked statically; the binary needs glibc, libstdc++ and zlib (in the base
# image), SQLite's library (the SQLite store) and CA certificates for the SMS gateway and
# PostgreSQL over TLS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata libsqlite3-0 \
 && rm -rf /var/lib/apt/lists/*

# ADD unpacks a local tarball: /opt/strongauth-<version>, reached as /opt/strongauth.
ADD strongauth-${VERSION}-linux-${ARCH}.tar.gz /opt/
RUN ln -s /opt/strongauth-${VERSION} /opt/strongauth \
 && cd /opt/strongauth && sha256sum --check --quiet SHA256SUMS \
 && install -d -o 65532 -g 65532 -m 0700 /var/lib/strongauth \
 && install -d -m 0755 /etc/strongauth \
 && cp /opt/strongauth/config/strongauth.json /etc/strongauth/strongauth.json

# The example production configuration, with what differs in a container: listen on every
# interface of the container (the proxy reaches it through the container network).
ENV STRONGAUTH_HTTP_HOST=0.0.0.0 \
    STRONGAUTH_DATA_DIR=/var/lib/strongauth
USER 65532:65532
WORKDIR /var/lib/strongauth
VOLUME ["/var/lib/strongauth"]
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/strongauth/bin/strongauth"]
CMD ["serve", "--config", "/etc/strongauth/strongauth.json"]
