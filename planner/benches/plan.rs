//! Planner benchmarks (criterion): a typical 40-line multi-stage Dockerfile, a generated
//! 300-stage file, and throughput of the syntax layer and the whole planner on ~1 MB of text.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const TYPICAL: &str = r#"# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
ARG ALPINE_VERSION=3.20

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS base
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

FROM base AS build
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    --mount=type=bind,target=. \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -ldflags="-s -w" -o /out/app ./cmd/app

FROM base AS test
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=bind,target=. \
    go test -race ./...

FROM base AS lint
RUN --mount=type=bind,target=. golangci-lint run

FROM alpine:${ALPINE_VERSION} AS certs
RUN apk add --no-cache ca-certificates

FROM scratch AS prod
COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /out/app /app
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=30s CMD ["/app", "healthcheck"]
LABEL org.opencontainers.image.source="https://example.invalid/app"
ENTRYPOINT ["/app"]
CMD ["serve"]
"#;

/// A chain of stages where each also copies from an earlier one and a few mount caches.
fn generated(n_stages: usize) -> String {
    let mut text = String::from("ARG BASE=alpine:3.20\n");
    for idx in 0..n_stages {
        if idx == 0 {
            text.push_str("FROM ${BASE} AS s0\n");
        } else if idx % 3 == 0 {
            text.push_str(&format!("FROM s{} AS s{idx}\n", idx - 1));
        } else {
            text.push_str(&format!("FROM ${{BASE}} AS s{idx}\n"));
        }
        text.push_str("WORKDIR /work\n");
        text.push_str(&format!(
            "RUN --mount=type=cache,target=/cache echo building {idx} > /work/out-{idx}\n"
        ));
        if idx > 0 {
            text.push_str(&format!(
                "COPY --from=s{} /work/out-{} /work/\n",
                idx / 2,
                idx / 2
            ));
        }
        text.push_str("ENV STAGE=\"done\"\n");
    }
    text
}

fn bench(c: &mut Criterion) {
    let options = planner::Options::default();
    c.bench_function("plan typical 40-line Dockerfile", |b| {
        b.iter(|| planner::plan(black_box(TYPICAL), &options))
    });
    let big = generated(300);
    c.bench_function("plan 300-stage Dockerfile", |b| {
        b.iter(|| planner::plan(black_box(&big), &options))
    });

    let mut group = c.benchmark_group("throughput");
    let mut mb = String::new();
    while mb.len() < 1_000_000 {
        mb.push_str(TYPICAL);
    }
    group.throughput(Throughput::Bytes(mb.len() as u64));
    group.bench_function("syntax layer, 1 MB", |b| {
        b.iter(|| planner::syntax::parse(black_box(&mb)))
    });
    group.bench_function("plan, 1 MB", |b| {
        b.iter(|| planner::plan(black_box(&mb), &options))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
