# syntax=docker/dockerfile:1
# Multi-stage build: a static reliquary binary on a distroless, non-root base.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/reliquary ./cmd/reliquary \
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
ENTRYPOINT ["/usr/local/bin/reliquary"]
CMD ["serve"]
