//! The committed JSON Schemas under planner/schema/ must equal the generated ones.
//! `UPDATE_SCHEMA=1 cargo test -p planner --test schema` rewrites them.

use std::path::PathBuf;

#[test]
fn committed_schemas_are_fresh() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema");
    let update = std::env::var_os("UPDATE_SCHEMA").is_some();
    let mut stale = Vec::new();
    for (name, generated) in planner::schema::all() {
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &generated).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale schema files {stale:?}: run UPDATE_SCHEMA=1 cargo test -p planner --test schema"
    );
}
