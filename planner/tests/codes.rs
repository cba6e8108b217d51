//! Every diagnostic code the planner reports over the fixture corpus (tests/fixtures/dockerfiles,
//! 240 real and edge-case Dockerfiles, planned and checked) is in the code catalogue that CI
//! reports and editors read, and the catalogue agrees on which codes are checks and which of
//! them are BuildKit's.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use planner::{Options, Severity};

fn dockerfiles(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            dockerfiles(&path, out);
        } else if path.file_name().is_some_and(|name| name == "Dockerfile") {
            out.push(path);
        }
    }
}

#[test]
fn every_reported_code_is_catalogued() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/dockerfiles");
    let mut files = Vec::new();
    dockerfiles(&root, &mut files);
    assert!(
        files.len() >= 200,
        "fixture corpus not found under {}",
        root.display()
    );
    let mut seen = BTreeSet::new();
    for path in &files {
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        let options = Options {
            targets: vec!["no-such-target".to_string()],
            ..Options::default()
        };
        let diagnostics = planner::check(&text)
            .into_iter()
            .chain(planner::plan(&text, &Options::default()).diagnostics)
            .chain(planner::plan(&text, &options).diagnostics);
        for diagnostic in diagnostics {
            let info = planner::codes::describe(&diagnostic.code).unwrap_or_else(|| {
                panic!(
                    "{}: code {} is not in planner/src/codes.rs",
                    path.display(),
                    diagnostic.code
                )
            });
            let is_check = diagnostic.severity == Severity::Warning;
            assert_eq!(info.check, is_check, "{}", diagnostic.code);
            assert_eq!(
                info.buildkit,
                diagnostic.url.is_some(),
                "{}",
                diagnostic.code
            );
            seen.insert(diagnostic.code);
        }
    }
    // The corpus exercises most of the catalogue (so this test cannot pass vacuously).
    assert!(seen.len() >= 25, "only {seen:?}");
}
