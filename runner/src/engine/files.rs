//! A container's files: stat a path, download a path as a tar stream, upload a tar stream.
//!
//! Input: a container id, a path, and for uploads a stream of tar bytes.
//! Output: [`PathStat`], tar byte streams, or the whole (small) archive.
//! Invariant: archives stream in both directions (nothing here holds a whole archive except
//! [`Engine::get_archive`], which is for small files such as `/etc/passwd`); an upload never
//! replaces a directory with a non-directory.

use std::pin::Pin;

use bollard::body_try_stream;
use bollard::query_parameters::{
    ContainerArchiveInfoOptions, DownloadFromContainerOptions, UploadToContainerOptions,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};

use bollard::Docker;

use super::common::{is_not_found, EngineError, EngineResult};

/// What `HEAD /containers/{id}/archive` says about a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` bits.
    pub mode: u32,
    /// For a symlink, its target resolved to an absolute path in the container.
    pub link_target: String,
}

impl PathStat {
    /// Whether the path is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & (1 << 31) != 0
    }

    /// Whether the path is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.mode & (1 << 27) != 0
    }
}

/// A tar archive on its way to the engine, chunk by chunk.
pub type ArchiveUpload = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// A tar archive coming from the engine, chunk by chunk.
pub type ArchiveDownload = Pin<Box<dyn Stream<Item = EngineResult<Bytes>> + Send>>;

/// Stats a path in a container; `None` when it does not exist.
pub(super) async fn stat_path(
    docker: &Docker,
    id: &str,
    path: &str,
) -> EngineResult<Option<PathStat>> {
    let options = ContainerArchiveInfoOptions {
        path: path.to_string(),
    };
    match docker.get_container_archive_info(id, Some(options)).await {
        Ok(stat) => Ok(Some(PathStat {
            name: stat.name,
            size: stat.size,
            mode: stat.file_mode,
            link_target: stat.link_target,
        })),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(EngineError::api(format!("stat {path}"), e)),
    }
}
/// Streams `path` of a container as a tar archive. A missing path is an error whose
/// [`EngineError::status`] is 404; stat first when that is expected.
pub(super) fn get_archive_stream(docker: &Docker, id: &str, path: &str) -> ArchiveDownload {
    let options = DownloadFromContainerOptions {
        path: path.to_string(),
    };
    let op = format!("download {path}");
    Box::pin(
        docker
            .download_from_container(id, Some(options))
            .map_err(move |e| EngineError::api(op.clone(), e)),
    )
}
/// Downloads `path` from a container as a whole tar archive (for small files); `None`
/// when it does not exist.
pub(super) async fn get_archive(
    docker: &Docker,
    id: &str,
    path: &str,
) -> EngineResult<Option<Vec<u8>>> {
    let mut stream = get_archive_stream(docker, id, path);
    let mut all = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => all.extend_from_slice(&bytes),
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(Some(all))
}
/// Uploads a tar stream into directory `path` of a container (which must exist), refusing
/// to replace a directory with a non-directory. The engine unpacks compressed archives
/// (gzip, bzip2, xz) itself.
pub(super) async fn put_archive(
    docker: &Docker,
    id: &str,
    path: &str,
    tar: ArchiveUpload,
) -> EngineResult<()> {
    let options = UploadToContainerOptions {
        path: path.to_string(),
        no_overwrite_dir_non_dir: Some("true".to_string()),
        copy_uidgid: None,
    };
    docker
        .upload_to_container(id, Some(options), body_try_stream(tar))
        .await
        .map_err(|e| EngineError::api(format!("upload an archive to {path}"), e))
}
/// Uploads a tar held in memory (small archives: directories, heredocs) into `path`.
pub(super) async fn put_archive_bytes(
    docker: &Docker,
    id: &str,
    path: &str,
    tar: Vec<u8>,
) -> EngineResult<()> {
    let chunk: std::io::Result<Bytes> = Ok(Bytes::from(tar));
    put_archive(
        docker,
        id,
        path,
        Box::pin(futures_util::stream::iter([chunk])),
    )
    .await
}
