//! `ADD` specifics: remote URLs (downloaded, `--checksum` verified) and local archives
//! (recognised by their magic bytes; the engine unpacks them on upload).
//!
//! Input: a URL and an optional `sha256:<hex>` checksum; or a one-file tar from the context.
//! Output: the downloaded file; whether a file is an archive to unpack.
//! Invariant: a checksum mismatch is an error naming both digests; nothing is written on failure.

use std::io::Read;

use sha2::{Digest, Sha256};

/// A downloaded file.
pub struct Downloaded {
    /// The file name (last URL path segment, `index.html` for none).
    pub name: String,
    /// Its bytes.
    pub content: Vec<u8>,
}

/// Downloads `url` (blocking I/O on a worker thread) and checks `checksum` if given.
pub async fn download(url: &str, checksum: Option<&str>) -> Result<Downloaded, String> {
    let url_owned = url.to_string();
    let content = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let response = ureq::get(&url_owned)
            .call()
            .map_err(|e| format!("ADD {url_owned}: {e}"))?;
        let mut content = Vec::new();
        response
            .into_body()
            .into_reader()
            .read_to_end(&mut content)
            .map_err(|e| format!("ADD {url_owned}: {e}"))?;
        Ok(content)
    })
    .await
    .map_err(|e| format!("ADD {url}: {e}"))??;
    if let Some(expected) = checksum {
        let Some(hex_digest) = expected.strip_prefix("sha256:") else {
            return Err(format!(
                "--checksum={expected}: only sha256:<hex> is supported"
            ));
        };
        let actual = hex::encode(Sha256::digest(&content));
        if !actual.eq_ignore_ascii_case(hex_digest) {
            return Err(format!(
                "ADD {url}: checksum mismatch: expected sha256:{hex_digest}, got sha256:{actual}"
            ));
        }
    }
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && !path.ends_with("//"))
        .filter(|_| path.matches('/').count() > 2)
        .unwrap_or("index.html")
        .to_string();
    Ok(Downloaded { name, content })
}

/// Whether `content` is a tar archive, plain or gzip/bzip2/xz-compressed.
pub fn is_archive_bytes(content: &[u8]) -> bool {
    let gzip = content.starts_with(&[0x1f, 0x8b]);
    let bzip2 = content.starts_with(b"BZh");
    let xz = content.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]);
    if gzip {
        let mut decoder = flate2::read::GzDecoder::new(content);
        let mut head = vec![0u8; 512];
        return decoder.read_exact(&mut head).is_ok() && is_tar_header(&head);
    }
    bzip2 || xz || is_tar_header(content)
}

fn is_tar_header(block: &[u8]) -> bool {
    block.len() >= 512 && &block[257..262] == b"ustar"
}
