# The aergo-rs node image: `docker build -t aergo-rs:0.1.0 .`
#
# Two stages: the build (Rust 1.95, the toolchain the tests run on, on
# Debian bookworm; the locked dependency set; a release binary) and a small
# runtime (bookworm-slim, the binary, the entry point, a non-root user).
# Base images are pinned by tag; the build uses Cargo.lock (--locked) and no
# network beyond crates.io, and the binary embeds no build time, so the
# same commit builds the same binary.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# The whole workspace, then the locked dependencies: cargo needs every
# member's manifest to resolve them, so they are fetched after the code is
# in (a change to any file refetches; the build itself dominates anyway).
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY deploy deploy
RUN cargo fetch --locked
RUN cargo build --release --locked -p aergo-cli \
 && strip target/release/aergo

FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 aergo \
 && useradd --system --uid 10001 --gid aergo --home-dir /data --shell /usr/sbin/nologin aergo \
 && mkdir -p /data && chown aergo:aergo /data
COPY --from=build /src/target/release/aergo /usr/local/bin/aergo
COPY deploy/entrypoint.sh /usr/local/bin/aergo-entrypoint
USER 10001:10001
VOLUME ["/data"]
# gRPC (the SDKs), p2p, JSON-RPC (and the web console, /metrics, /health).
EXPOSE 7845 7846 7847
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["aergo", "--rpc", "http://127.0.0.1:7847", "health"]
ENTRYPOINT ["aergo-entrypoint"]
CMD ["node", "--dir", "/data"]
