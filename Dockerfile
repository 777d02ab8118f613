# syntax=docker/dockerfile:1
# Multi-stage build: a static reliquary binary on a distroless, non-root base.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION and COMMIT stamp `reliquary version` (the build context has no .git).
ARG VERSION=""
ARG COMMIT=""
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
    -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/reliquary ./cmd/reliquary \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/reliquary /usr/local/bin/reliquary
# Index, signing key and (with --storage fs) the artifacts live here, owned
# by the nonroot user (uid 65532) so a fresh volume is writable.
COPY --from=build --chown=65532:65532 /out/data /var/lib/reliquary
VOLUME ["/var/lib/reliquary"]
ENV RELIQUARY_DATA_DIR=/var/lib/reliquary \
    RELIQUARY_LISTEN=0.0.0.0:8080
EXPOSE 8080
USER nonroot:nonroot
# The image has no shell or curl: the binary probes itself (GET /healthz on
# RELIQUARY_LISTEN). Readiness (index and storage) is `healthcheck --ready`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/reliquary", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/reliquary"]
CMD ["serve"]
