//! `ADD` specifics: remote URLs (downloaded, `--checksum` verified) and local archives
//! (recognised by their content, unpacked at the destination).
//!
//! Input: a URL and an optional `sha256:<hex>` checksum; or the context files an ADD names.
//! Output: the downloaded file with its digest; the local archives taken out of a source set and
//! unpacked into the target container (owned by `--chown` when given, as BuildKit does).
//! Invariant: a checksum mismatch is an error naming both digests; nothing is written on
//! failure; an archive is unpacked as a stream, decompressed on a blocking thread.

use std::io::Read;

use sha2::{Digest, Sha256};

use crate::context::{EntryKind, SourceSet};
use crate::engine::{Engine, EngineResult};
use crate::error::StepError;
use crate::fs::pipe::{self, Uploaded};
use crate::fs::tar::{self as tarx, Overrides};

/// A downloaded file.
pub struct Downloaded {
    /// The file name: the URL path's last segment, `__unnamed__` for none (BuildKit's name).
    pub name: String,
    /// Its bytes.
    pub content: Vec<u8>,
    /// The sha256 of its bytes, hex.
    pub digest: String,
    /// Its modification time, seconds since the epoch: the response's `Last-Modified`, or 0
    /// without one, as BuildKit's HTTP source sets it.
    pub modified: u64,
}

/// Downloads `url` (blocking I/O on a worker thread) and checks `checksum` if given
/// (`sha256:`, `sha384:` or `sha512:` and the hex digest).
pub async fn download(url: &str, checksum: Option<&str>) -> Result<Downloaded, StepError> {
    let expected = checksum.map(parse_checksum).transpose()?;
    let url_owned = url.to_string();
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| StepError::Download {
        url: url.to_string(),
        source,
    };
    let (content, last_modified) = tokio::task::spawn_blocking(
        move || -> Result<(Vec<u8>, Option<String>), Box<dyn std::error::Error + Send + Sync>> {
            let response = ureq::get(&url_owned).call()?;
            let last_modified = response
                .headers()
                .get("last-modified")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut content = Vec::new();
            response
                .into_body()
                .into_reader()
                .read_to_end(&mut content)?;
            Ok((content, last_modified))
        },
    )
    .await
    .map_err(StepError::Worker)?
    .map_err(fail)?;
    let digest = hex::encode(Sha256::digest(&content));
    if let Some((algorithm, hex_digest)) = expected {
        let actual = match algorithm {
            "sha256" => digest.clone(),
            "sha384" => hex::encode(sha2::Sha384::digest(&content)),
            // check_digest admits sha256, sha384 and sha512 only.
            _ => hex::encode(sha2::Sha512::digest(&content)),
        };
        if !actual.eq_ignore_ascii_case(hex_digest) {
            return Err(StepError::Invalid(format!(
                "ADD {url}: checksum mismatch: expected {algorithm}:{hex_digest}, got {algorithm}:{actual}"
            )));
        }
    }
    // An unreadable date is ignored, as Go's http.ParseTime failing is in BuildKit.
    let modified = last_modified
        .and_then(|text| httpdate::parse_http_date(&text).ok())
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    Ok(Downloaded {
        name: planner::http_file_name(url),
        content,
        digest,
        modified,
    })
}

/// `--checksum=` checked as BuildKit checks it (the planner's go-digest rules) and split into
/// its algorithm and hex digest.
fn parse_checksum(checksum: &str) -> Result<(&str, &str), StepError> {
    planner::check_digest(checksum)
        .map_err(|reason| StepError::Invalid(format!("--checksum={checksum}: {reason}")))?;
    Ok(checksum.split_once(':').unwrap_or((checksum, "")))
}

/// How an archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip.
    Gzip,
    /// bzip2.
    Bzip2,
    /// xz.
    Xz,
}

/// An archive that ADD unpacks: a file of the context, or a download with `--unpack=true`.
pub struct LocalArchive {
    /// Where its bytes are.
    pub source: ArchiveSource,
    /// Its compression.
    pub compression: Compression,
}

/// Where an archive's bytes are.
pub enum ArchiveSource {
    /// A host file.
    File(std::path::PathBuf),
    /// Bytes in memory (a download).
    Bytes(Vec<u8>),
}

impl ArchiveSource {
    /// A reader of the bytes (opening the file).
    fn open(&self) -> Result<Box<dyn Read + Send + '_>, StepError> {
        match self {
            ArchiveSource::File(path) => std::fs::File::open(path)
                .map(|f| Box::new(f) as Box<dyn Read + Send>)
                .map_err(|e| StepError::Invalid(format!("cannot read {}: {e}", path.display()))),
            ArchiveSource::Bytes(bytes) => Ok(Box::new(bytes.as_slice())),
        }
    }
}

/// The compression of a tar archive, or `None` when `head` (the file's first bytes) is not one.
pub fn archive_kind(head: &[u8]) -> Option<Compression> {
    if head.starts_with(&[0x1f, 0x8b]) {
        let mut decoder = flate2::read::GzDecoder::new(head);
        let mut block = vec![0u8; 512];
        return (decoder.read_exact(&mut block).is_ok() && is_tar_header(&block))
            .then_some(Compression::Gzip);
    }
    if head.starts_with(b"BZh") {
        return Some(Compression::Bzip2);
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return Some(Compression::Xz);
    }
    is_tar_header(head).then_some(Compression::None)
}

fn is_tar_header(block: &[u8]) -> bool {
    block.len() >= 512 && &block[257..262] == b"ustar"
}

/// ADD: takes the local archives named as sources (not files inside named directories) out of
/// `set`.
pub fn split_archives(mut set: SourceSet) -> (SourceSet, Vec<LocalArchive>) {
    let mut archives = Vec::new();
    set.entries.retain(|entry| {
        if !(entry.root_file && entry.kind == EntryKind::File) {
            return true;
        }
        let mut head = vec![0u8; 4096];
        let read = std::fs::File::open(&entry.path).and_then(|mut f| {
            let n = f.read(&mut head)?;
            head.truncate(n);
            Ok(())
        });
        match (read, archive_kind(&head)) {
            (Ok(()), Some(compression)) => {
                archives.push(LocalArchive {
                    source: ArchiveSource::File(entry.path.clone()),
                    compression,
                });
                false
            }
            _ => true,
        }
    });
    (set, archives)
}

/// Unpacks `archive` into directory `dest` (absolute, existing) of `container`; with `owner`,
/// every member is owned by it. Member names stay inside `dest`, as in BuildKit.
pub async fn unpack(
    engine: &Engine,
    container: &str,
    archive: LocalArchive,
    dest: &str,
    owner: Option<(u64, u64)>,
) -> EngineResult<Result<(), StepError>> {
    let dest_name = tarx::join_dest(dest, "");
    if owner.is_none() {
        // The engine unpacks (and decompresses) an archive uploaded into a directory itself.
        let stream: crate::engine::ArchiveUpload = match &archive.source {
            ArchiveSource::File(path) => match tokio::fs::File::open(path).await {
                Ok(file) => Box::pin(tokio_util::io::ReaderStream::with_capacity(
                    file,
                    pipe::PIPE_BUFFER,
                )),
                Err(e) => {
                    return Ok(Err(StepError::Invalid(format!(
                        "cannot read {}: {e}",
                        path.display()
                    ))))
                }
            },
            ArchiveSource::Bytes(bytes) => Box::pin(futures_util::stream::once(
                std::future::ready(Ok(bytes::Bytes::from(bytes.clone()))),
            )),
        };
        match engine
            .put_archive(container, &format!("/{dest_name}"), stream)
            .await
        {
            Ok(()) => return Ok(Ok(())),
            // A member named `../x` (or `/x`): the engine refuses it, BuildKit unpacks it inside
            // the destination. Unpack again below, with the names kept inside (what the
            // engine unpacked before refusing is written again, unchanged).
            Err(e)
                if e.refused_archive()
                    .is_some_and(|m| m.contains("is outside of")) => {}
            Err(e) => return Err(e),
        }
    }
    let (upload, producer) = pipe::spawn_producer(move |out| -> Result<(), StepError> {
        let file = archive.source.open()?;
        let reader: Box<dyn Read + '_> = match archive.compression {
            Compression::None => Box::new(file),
            Compression::Gzip => Box::new(flate2::read::GzDecoder::new(file)),
            Compression::Bzip2 => Box::new(bzip2::read::BzDecoder::new(file)),
            Compression::Xz => Box::new(xz_reader(file)?),
        };
        // A member's `..` stops at the destination, as BuildKit unpacks (`../x` is `dest/x`).
        let map = |name: &str| {
            let target = tarx::join_dest(&format!("/{dest_name}"), &tarx::join_dest("", name));
            (!target.is_empty()).then_some(target)
        };
        tarx::rewrite_stream(
            reader,
            out,
            &map,
            Overrides { owner, chmod: None },
            &[],
            &map,
        )
        .map_err(StepError::Tar)
    });
    let uploaded = engine.put_archive(container, "/", upload).await;
    match producer.finish(uploaded).await {
        Uploaded::Done(()) => Ok(Ok(())),
        Uploaded::Producer(e) => Ok(Err(e)),
        Uploaded::Worker(e) => Ok(Err(StepError::Worker(e))),
        Uploaded::Upload(e) => Err(e),
    }
}

/// A reader of the decompressed content of an xz file (decompressed on this blocking thread, in
/// memory: only `ADD --chown` of an `.xz` archive, or one with members named `../x`, takes this path).
fn xz_reader(file: impl Read) -> Result<std::io::Cursor<Vec<u8>>, StepError> {
    let mut input = std::io::BufReader::new(file);
    let mut output = Vec::new();
    lzma_rs::xz_decompress(&mut input, &mut output)
        .map_err(|e| StepError::Invalid(format!("cannot decompress an xz archive: {e}")))?;
    Ok(std::io::Cursor::new(output))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_archives_by_content() {
        let tar = tarx::files(&[("a".to_string(), b"x".to_vec(), 0o644)], (0, 0)).unwrap();
        assert_eq!(archive_kind(&tar), Some(Compression::None));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        assert_eq!(archive_kind(&gz.finish().unwrap()), Some(Compression::Gzip));
        assert_eq!(archive_kind(b"BZh91AY"), Some(Compression::Bzip2));
        assert_eq!(archive_kind(b"plain text"), None);
    }
}
