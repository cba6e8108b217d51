//! Planner benchmarks (criterion).
//!
//! Input: a typical 40-line multi-stage Dockerfile, a generated 300-stage file, a real 98-stage
//! 90 KB Dockerfile (tests/fixtures/dockerfiles/large/neondatabase-neon-compute-node.Dockerfile), a generated
//! 20,000-stage chain, and ~1 MB of text for the throughput of the syntax layer and of the
//! whole planner (and, for comparison, of copying and freeing that plan's outcome).
//! Output: criterion timings (`cargo bench -p planner --bench plan`).
//! Invariant: every case plans text that produces a plan (no error path is timed by accident).

use std::hint::black_box;

/// The allocator the `planner` binary uses (its default feature `mimalloc`); build the benchmark
/// with `--no-default-features --features cli` to measure the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// The real 98-stage Dockerfile of Neon's compute image (source in its header comment).
const NEON: &str = include_str!(
    "../../tests/fixtures/dockerfiles/large/neondatabase-neon-compute-node.Dockerfile"
);

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

/// `n_stages` stages, each `FROM` the one before and copying from the one before that: the
/// deepest dependency chain a file of that size can have.
fn chain(n_stages: usize) -> String {
    let mut text = String::from("FROM alpine:3.20 AS s0\nRUN echo 0 > /out\n");
    for idx in 1..n_stages {
        text.push_str(&format!("FROM s{} AS s{idx}\n", idx - 1));
        text.push_str(&format!(
            "COPY --from=s{} /out /prev\n",
            idx.saturating_sub(2)
        ));
        text.push_str(&format!("RUN echo {idx} > /out\n"));
    }
    text
}

fn bench(c: &mut Criterion) {
    // Neon's compute image needs its PostgreSQL version (`${PG_VERSION:?}`), as in BuildKit;
    // the other files ignore the argument.
    let options = planner::Options {
        build_args: [("PG_VERSION".to_string(), "v17".to_string())].into(),
        ..planner::Options::default()
    };
    for (name, text) in [
        ("plan typical 40-line Dockerfile", TYPICAL.to_string()),
        ("plan 300-stage Dockerfile", generated(300)),
        (
            "plan neon compute-node (98 stages, 90 KB)",
            NEON.to_string(),
        ),
        ("plan 20,000-stage chain", chain(20_000)),
    ] {
        assert!(planner::plan(&text, &options).plan.is_some(), "{name}");
        c.bench_function(name, |b| {
            b.iter(|| planner::plan(black_box(&text), &options))
        });
    }

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
    // What the plan's owned strings cost on their own: the outcome of the 1 MB file copied and
    // freed (every string and list of the plan allocated once and freed once).
    let outcome = planner::plan(&mb, &options);
    group.bench_function("copy and free of the 1 MB plan's outcome", |b| {
        b.iter(|| drop(black_box(outcome.clone())))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
