# The Sonobuoy plugin image (see `vsconform sonobuoy gen`): the vsconform
# binary alone. It is static, and the fixtures it needs are go:embed'ed, so
# the final stage holds nothing else; it runs as distroless's non-root user.
#
#   docker build --build-arg VERSION=$(git describe --always) -t REGISTRY/vsconform:TAG .
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/vsconform ./cmd/runner

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/vsconform /vsconform
# Numeric, so that the plugin's runAsNonRoot can be checked by the kubelet.
USER 65532:65532
ENTRYPOINT ["/vsconform"]
CMD ["sonobuoy", "run"]
