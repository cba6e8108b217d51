//! The `planner` command line: plan, check and graph a Dockerfile.
fn main() {}
