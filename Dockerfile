# syntax=docker/dockerfile:1
# Two images from one build: "serve" (the default, last stage) runs the API
# on distroless/static as nonroot; "refresh" adds busybox's sh and sleep so
# compose can run `signupguard refresh` on a schedule. The binary is static
# (CGO_ENABLED=0), so neither image needs a libc.

FROM golang:1.26-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/signupguard ./cmd/signupguard

FROM busybox:1.37-musl AS refresh
COPY --from=build /out/signupguard /usr/local/bin/signupguard
USER 65532:65532
# Spamhaus asks that DROP be fetched at most once an hour.
ENTRYPOINT ["/bin/sh", "-c", "while :; do signupguard refresh; sleep 3600; done"]

FROM gcr.io/distroless/static-debian12:nonroot AS serve
COPY --from=build /out/signupguard /signupguard
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/signupguard"]
CMD ["serve"]
