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
}
