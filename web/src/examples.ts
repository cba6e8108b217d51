// The examples menu: the seed's Dockerfiles first (read from examples/seed/ at build time, so
// they never drift), then realistic multi-stage files for Go, Node.js and Rust.
//
// Input: examples/seed/Dockerfile{,.fat,.build,.run}. Output: the list of examples with the
// targets each suggests.
// Invariant: plain data; every example plans without errors (the end-to-end tests load each one).
import seedBuild from "../../examples/seed/Dockerfile.build?raw";
import seedFat from "../../examples/seed/Dockerfile.fat?raw";
import seedMultiStage from "../../examples/seed/Dockerfile?raw";
import seedRun from "../../examples/seed/Dockerfile.run?raw";

export interface Example {
  id: string;
  title: string;
  dockerfile: string;
  /** Targets to select when the example is loaded (empty = the last stage). */
  targets: string[];
}

const goHello = `# syntax=docker/dockerfile:1
# The Go hello world of Docker's multi-stage build guide: build in a
# full Go toolchain image, ship only the binary on an empty base.
FROM golang:1.23 AS builder
WORKDIR /src
COPY <<EOF ./main.go
package main

import "fmt"

func main() {
  fmt.Println("hello, world")
}
EOF
RUN go build -o /bin/hello ./main.go

FROM scratch
COPY --from=builder /bin/hello /bin/hello
CMD ["/bin/hello"]
`;

const goService = `# syntax=docker/dockerfile:1
ARG GO_VERSION=1.23
ARG ALPINE_VERSION=3.20

FROM golang:\${GO_VERSION}-alpine AS base
WORKDIR /src
ENV CGO_ENABLED=0
RUN --mount=type=cache,target=/go/pkg/mod \\
    --mount=type=bind,source=go.mod,target=go.mod \\
    --mount=type=bind,source=go.sum,target=go.sum \\
    go mod download -x

FROM base AS build
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \\
    --mount=type=bind,target=. \\
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/server ./cmd/server

FROM base AS test
RUN --mount=type=cache,target=/go/pkg/mod \\
    --mount=type=bind,target=. \\
    go test -v ./...

FROM golangci/golangci-lint:v1.61 AS lint
WORKDIR /src
RUN --mount=type=bind,target=. \\
    --mount=from=base,source=/go/pkg/mod,target=/go/pkg/mod \\
    golangci-lint run

FROM alpine:\${ALPINE_VERSION} AS final
RUN apk add --no-cache ca-certificates tzdata
RUN adduser -D -u 10001 app
USER app
COPY --from=build /out/server /usr/local/bin/server
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/server"]
`;

const node = `# syntax=docker/dockerfile:1
ARG NODE_VERSION=20

FROM node:\${NODE_VERSION}-alpine AS base
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1

FROM base AS deps
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci

FROM base AS prod-deps
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev

FROM base AS dev
COPY --from=deps /app/node_modules ./node_modules
COPY . .
CMD ["npm", "run", "dev"]

FROM base AS build
COPY --from=deps /app/node_modules ./node_modules
COPY . .
RUN npm run build

FROM base AS runner
ENV NODE_ENV=production
USER node
COPY --from=prod-deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
EXPOSE 3000
HEALTHCHECK --interval=30s CMD wget -qO- http://localhost:3000/health || exit 1
CMD ["node", "dist/server.js"]
`;

const rust = `# syntax=docker/dockerfile:1
ARG RUST_VERSION=1.82

FROM rust:\${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
RUN --mount=type=cache,target=/usr/local/cargo/registry \\
    cargo chef cook --release --recipe-path recipe.json
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \\
    cargo build --release --bin server && cp target/release/server /server

FROM debian:bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \\
    && rm -rf /var/lib/apt/lists/*
COPY --from=builder /server /usr/local/bin/server
USER nobody
ENTRYPOINT ["/usr/local/bin/server"]

FROM gcr.io/distroless/cc-debian12 AS distroless
COPY --from=builder /server /server
ENTRYPOINT ["/server"]
`;

const edges = `# syntax=docker/dockerfile:1
# Edge kinds at a glance: FROM (solid), COPY --from (dashed),
# RUN --mount from (dotted) and ONBUILD triggers (marked).
FROM alpine:3.20 AS assets
RUN mkdir -p /assets && echo "logo" > /assets/logo.txt

FROM alpine:3.20 AS template
ONBUILD COPY --from=assets /assets /srv/assets
ONBUILD RUN ls /srv/assets

FROM template AS site
RUN --mount=type=bind,from=assets,source=/assets,target=/mnt \\
    cp /mnt/logo.txt /srv/

FROM busybox:1.36
COPY --from=site /srv /srv
COPY --from=nginx:1.27-alpine /etc/nginx/nginx.conf /etc/nginx.conf
CMD ["httpd", "-f", "-h", "/srv"]

FROM alpine:3.20 AS debug
COPY --from=3 /srv /debug
`;

/** The examples, in menu order. */
export const EXAMPLES: Example[] = [
  { id: "seed", title: "Seed: multi-stage (examples/seed/Dockerfile)", dockerfile: seedMultiStage, targets: [] },
  { id: "seed-fat", title: "Seed: one fat Dockerfile", dockerfile: seedFat, targets: [] },
  { id: "seed-build", title: "Seed: Dockerfile.build (build.sh pattern)", dockerfile: seedBuild, targets: [] },
  { id: "seed-run", title: "Seed: Dockerfile.run (build.sh pattern)", dockerfile: seedRun, targets: [] },
  { id: "go-hello", title: "Go hello world with a heredoc", dockerfile: goHello, targets: [] },
  { id: "go-service", title: "Go service: test, lint, final", dockerfile: goService, targets: ["final"] },
  { id: "node", title: "Node.js app: dev and production", dockerfile: node, targets: ["runner"] },
  { id: "rust", title: "Rust with cargo-chef", dockerfile: rust, targets: ["runtime"] },
  { id: "edges", title: "Edge kinds: ONBUILD, mounts, images", dockerfile: edges, targets: ["site"] },
];
