# One image holds both binaries; compose and ECS pick one with the command.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/ ./worker ./producer

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /out/producer /usr/local/bin/
USER nonroot
ENTRYPOINT []
CMD ["/usr/local/bin/worker"]
