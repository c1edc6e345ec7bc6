# One image holds both binaries; compose and ECS pick one with the command.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION becomes service.version on every span and metric.
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-X github.com/graphfleet/graphfleet/shared/telemetry.Version=${VERSION}" -o /out/ ./worker ./producer

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /out/producer /usr/local/bin/
USER nonroot
# The image has no shell or curl: the worker checks itself (liveness, /healthz).
HEALTHCHECK --interval=15s --timeout=5s --retries=3 CMD ["/usr/local/bin/worker", "-healthcheck"]
ENTRYPOINT []
CMD ["/usr/local/bin/worker"]
