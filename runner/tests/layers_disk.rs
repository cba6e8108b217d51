//! The leak report's two ways of listing what an image adds over its base agree: the walk of
//! the engine's own layer directories (local `overlay2` engine) gives exactly the listing the
//! `docker save` stream gives, on an image built from Dockerfile text with deleted files
//! (whiteouts), a directory removed and made again (opaque), hard links, symlinks, a fifo, files
//! rewritten by a later step, with content hashes for the wanted sizes.
//!
//! Input: the local engine (`overlay2`, as scripts/setup.sh starts it) and
//! `stageplan-test/busybox:1`. Output: pass/fail.
//! Invariant: the image and its cache tags are removed at the end.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use runner::engine::Engine;
use runner::record::{layers, layers_disk};
use support::record::{build, project, write, Cleanup};
use support::{require_engine, TempDir, BASE};

#[test]
fn the_layer_directories_list_what_docker_save_lists() {
    require_engine();
    let mut cleanup = Cleanup::default();
    let parent = TempDir::new("layers-disk");
    let dir = project(&parent, &format!("layers-{}", std::process::id()));
    let nonce = format!("{:?}", std::time::SystemTime::now());
    write(&dir, "big.txt", &"context line\n".repeat(500));
    write(
        &dir,
        "Dockerfile",
        &format!(
            "FROM {BASE} AS base\n\
             RUN mkdir -p /d/sub /gone /opq && echo '{nonce}' > /d/a && echo b > /d/sub/b \
                 && echo x > /gone/x && echo o > /opq/o && ln /d/a /d/hard && ln -s /d/a /d/sym \
                 && mkfifo /d/fifo\n\
             COPY big.txt /d/big.txt\n\
             FROM base\n\
             RUN rm -rf /gone /d/sub/b /opq && mkdir /opq && echo n > /opq/new && echo c > /d/c \
                 && ln /d/c /d/c2 && echo changed > /d/a && cp /d/big.txt /copy.txt\n"
        ),
    );
    // One fresh container per RUN, so each step is its own layer over the one before (a shared
    // container commits one growing layer) and the deletions are whiteouts.
    let built = build(&dir, &["--isolate-runs"], &[], &mut cleanup);
    let image = built.record["image"]
        .as_str()
        .expect("the record names the image")
        .to_string();

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let engine = Engine::connect(None)
            .await
            .map_err(|(_, e)| e)
            .expect("the engine");
        let storage = engine.storage().await.expect("the engine's storage");
        assert_eq!(
            storage.driver, "overlay2",
            "scripts/setup.sh starts overlay2"
        );
        let info = engine
            .inspect_image(&image)
            .await
            .expect("inspect")
            .expect("the image");
        let base = engine
            .inspect_image(BASE)
            .await
            .expect("inspect")
            .expect("the base");
        assert!(info.diff_ids.starts_with(&base.diff_ids));
        let added_from = base.diff_ids.len();
        let added = info.diff_ids[added_from..].to_vec();
        assert!(added.len() >= 2, "a layer per container: {added:?}");
        // "changed\n" (8 bytes) and the context file's size are hashed; nothing else.
        let wanted: BTreeSet<u64> = [8, 13 * 500].into();

        let streamed = layers::added_files(&engine, &image, &added, wanted.clone())
            .await
            .expect("the docker save listing");
        let walked = layers_disk::added_files_on_disk(
            Path::new(&storage.root),
            &info.diff_ids,
            added_from,
            &wanted,
        )
        .expect("the layer directories of a local overlay2 engine");
        assert_eq!(walked, streamed);

        let paths: Vec<&str> = walked.files.keys().map(String::as_str).collect();
        for present in [
            "/d/a", "/d/hard", "/d/sym", "/d/fifo", "/d/c", "/d/c2", "/opq/new",
        ] {
            assert!(paths.contains(&present), "{present} missing from {paths:?}");
        }
        for gone in ["/gone/x", "/d/sub/b", "/opq/o"] {
            assert!(!paths.contains(&gone), "{gone} listed: {paths:?}");
        }
        assert!(walked.files["/d/a"].sha256.is_some(), "8 bytes are hashed");
        assert_eq!(
            walked.files["/d/big.txt"].sha256, walked.files["/copy.txt"].sha256,
            "the same content, the same hash"
        );
    });
}
