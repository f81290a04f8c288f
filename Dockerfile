# The gateway as a container: `docker build -t voice-gateway .` (deploy/compose.yaml runs a fleet).
# Build stage on the toolchain of rust-toolchain.toml; the runtime image holds only the binary,
# CA certificates (for the vendors' TLS) and the shop's starter configuration.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p voice-gateway --locked \
 && cp target/release/voice-gateway /voice-gateway

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 gateway \
 && mkdir -p /var/lib/voice-gateway/spool \
 && chown -R gateway /var/lib/voice-gateway
COPY --from=build /voice-gateway /usr/local/bin/voice-gateway
COPY fixtures/shop.toml /etc/voice-gateway/shop.toml
USER gateway
ENV BIND_ADDR=0.0.0.0:8080 \
    SHOP_CONFIG=/etc/voice-gateway/shop.toml \
    RECORD_SPOOL_DIR=/var/lib/voice-gateway/spool
EXPOSE 8080
# SIGTERM drains: readiness fails, calls finish (SHUTDOWN_DRAIN_SECS), the rest go to the advisor.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/voice-gateway"]
