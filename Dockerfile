# The image the Helm chart and deploy/manifests run: the `rampart` binary (glibc) on a
# distroless base, as a non-root user, with nothing to write (the pod mounts its root
# filesystem read-only).
#
#   docker build -t ghcr.io/rampart-dev/rampart:0.1.0 .
#   docker buildx imagetools inspect ghcr.io/rampart-dev/rampart:0.1.0   # the digest to pin
FROM docker.io/library/rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake clang && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p rampart && install -m 0755 target/release/rampart /rampart

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /rampart /usr/local/bin/rampart
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/rampart"]
CMD ["serve", "--listen=0.0.0.0:8443", "--tls-cert=/certs/tls.crt", "--tls-key=/certs/tls.key"]
