//! The JSON Schema of build record JSON v1, generated from the wire types with schemars.
//!
//! Input: nothing. Output: the pretty-printed schema document.
//! Invariant: the committed `runner/schema/build-record.schema.json` equals it (a test checks;
//! `UPDATE_SCHEMA=1 cargo test -p runner record_schema` rewrites it), and the web's
//! TypeScript types are generated from that file.

use super::types::BuildRecord;

/// The schema of build record JSON v1.
pub fn record_schema() -> String {
    let schema = schemars::schema_for!(BuildRecord);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_schema_is_fresh() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schema/build-record.schema.json");
        let generated = record_schema();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, &generated).expect("write schema");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: run `UPDATE_SCHEMA=1 cargo test -p runner record_schema` and commit it",
            path.display()
        );
    }

    #[test]
    fn record_fixtures_still_read_as_record_json_v1() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/records");
        let mut read = 0;
        for entry in std::fs::read_dir(&dir).expect("tests/fixtures/records") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read fixture");
            let record: BuildRecord = serde_json::from_str(&text).unwrap_or_else(|e| {
                panic!(
                    "{} no longer reads as a build record ({e}); rebuild it with `runner build --record` (see the web tests that use it)",
                    path.display()
                )
            });
            assert_eq!(record.version, crate::record::types::RECORD_VERSION);
            read += 1;
        }
        assert!(read > 0, "no record fixture in {}", dir.display());
    }
}
