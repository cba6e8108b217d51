//! The session's `moby.filesync.v1.FileSync` service: the build context, sent to BuildKit with
//! fsutil's `DiffCopy` protocol.
//!
//! Input: the directories this session exposes (by name, with the ignore patterns that override
//! the daemon's excludes, as the Docker CLI does for `.dockerignore`) and the daemon's requests:
//! `dir-name`, `include-patterns`, `exclude-patterns`, `followpaths` metadata, then `REQ`
//! packets naming the files whose content it needs and a final `FIN`.
//! Output: one `STAT` packet per entry in fsutil's order and an empty `STAT` at the end; for each
//! `REQ`, the file's bytes in `DATA` packets of 32 KiB and an empty `DATA`; `FIN` after the
//! daemon's `FIN`.
//! Invariant: files are streamed, never held whole; a file that cannot be opened (a socket, a
//! file removed meanwhile) is sent empty, as fsutil does; nothing outside the directory is read.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bollard_buildkit_proto::fsutil::types::packet::PacketType;
use bollard_buildkit_proto::fsutil::types::Packet;
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSync;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use super::fswalk::{walk, WalkEntry, WalkRequest};

/// Bytes per `DATA` packet (fsutil's buffer size).
const DATA_CHUNK: usize = 32 * 1024;

/// One directory the session exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedDir {
    /// The host directory.
    pub root: PathBuf,
    /// Ignore patterns that replace the daemon's `exclude-patterns` (unless it sends
    /// `override-excludes: true`); empty to use the daemon's.
    pub excludes: Vec<String>,
    /// Send every entry as owned by 0:0, as the Docker CLI and buildx send a build context (the
    /// host's owners mean nothing in an image).
    pub reset_owners: bool,
}

/// The file sync service of one session.
#[derive(Debug, Clone, Default)]
pub struct FileSyncService {
    dirs: Arc<BTreeMap<String, SyncedDir>>,
}

impl FileSyncService {
    /// Exposes `dirs` by name (`context`, ...).
    pub fn new(dirs: BTreeMap<String, SyncedDir>) -> FileSyncService {
        FileSyncService {
            dirs: Arc::new(dirs),
        }
    }
}

type PacketSender = mpsc::Sender<Result<Packet, Status>>;

#[tonic::async_trait]
impl FileSync for FileSyncService {
    type DiffCopyStream = ReceiverStream<Result<Packet, Status>>;

    async fn diff_copy(
        &self,
        request: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::DiffCopyStream>, Status> {
        let metadata = request.metadata().clone();
        let dir_name = first_value(&metadata, "dir-name").unwrap_or_default();
        let Some(dir) = self.dirs.get(&dir_name).cloned() else {
            return Err(Status::not_found(format!(
                "no access allowed to dir {dir_name:?}"
            )));
        };
        let override_excludes =
            first_value(&metadata, "override-excludes").as_deref() == Some("true");
        let walk_request = WalkRequest {
            include_patterns: all_values(&metadata, "include-patterns"),
            exclude_patterns: if !dir.excludes.is_empty() && !override_excludes {
                dir.excludes.clone()
            } else {
                all_values(&metadata, "exclude-patterns")
            },
            follow_paths: all_values(&metadata, "followpaths"),
        };
        let (sender, receiver) = mpsc::channel(64);
        let files: Arc<Mutex<HashMap<u32, PathBuf>>> = Arc::default();
        let (request_sender, request_receiver) = mpsc::unbounded_channel();
        tokio::spawn(send_requested_files(request_receiver, sender.clone()));
        tokio::spawn(read_requests(
            request.into_inner(),
            files.clone(),
            request_sender,
            sender.clone(),
        ));
        let root = dir.root.clone();
        let reset_owners = dir.reset_owners;
        tokio::task::spawn_blocking(move || {
            send_stats(&root, &walk_request, reset_owners, &files, &sender)
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    type TarStreamStream = ReceiverStream<Result<Packet, Status>>;

    async fn tar_stream(
        &self,
        _request: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::TarStreamStream>, Status> {
        Err(Status::unimplemented(
            "this session sends files with DiffCopy only",
        ))
    }
}

/// Walks the directory and sends its stats, then the empty stat that ends the list; an error
/// is sent as an `ERR` packet (the daemon reports it as "error from sender").
fn send_stats(
    root: &std::path::Path,
    request: &WalkRequest,
    reset_owners: bool,
    files: &Mutex<HashMap<u32, PathBuf>>,
    sender: &PacketSender,
) {
    let mut next_id: u32 = 0;
    let mut open = true;
    let result = walk(root, request, &mut |entry: WalkEntry| {
        if let Some(path) = entry.content {
            lock(files).insert(next_id, path);
        }
        next_id += 1;
        let mut stat = entry.stat;
        if reset_owners {
            stat.uid = 0;
            stat.gid = 0;
        }
        let packet = Packet {
            r#type: PacketType::PacketStat as i32,
            stat: Some(stat),
            ..Packet::default()
        };
        open = sender.blocking_send(Ok(packet)).is_ok();
        open
    });
    if !open {
        return;
    }
    let last = match result {
        Ok(()) => Packet {
            r#type: PacketType::PacketStat as i32,
            ..Packet::default()
        },
        Err(err) => Packet {
            r#type: PacketType::PacketErr as i32,
            data: err.to_string().into_bytes(),
            ..Packet::default()
        },
    };
    let _ = sender.blocking_send(Ok(last));
}

/// Reads the daemon's packets: queues each requested file, answers `FIN` with `FIN`.
async fn read_requests(
    mut incoming: Streaming<Packet>,
    files: Arc<Mutex<HashMap<u32, PathBuf>>>,
    requests: mpsc::UnboundedSender<(u32, PathBuf)>,
    sender: PacketSender,
) {
    loop {
        let packet = match incoming.message().await {
            Ok(Some(packet)) => packet,
            Ok(None) | Err(_) => return,
        };
        match PacketType::try_from(packet.r#type) {
            Ok(PacketType::PacketReq) => {
                let path = lock(&files).remove(&packet.id);
                match path {
                    Some(path) => {
                        if requests.send((packet.id, path)).is_err() {
                            return;
                        }
                    }
                    None => {
                        let _ = sender
                            .send(Err(Status::invalid_argument(format!(
                                "invalid file id {}",
                                packet.id
                            ))))
                            .await;
                        return;
                    }
                }
            }
            Ok(PacketType::PacketFin) => {
                // The daemon has everything it asked for: the requested files were all sent
                // before it could send FIN.
                let _ = sender
                    .send(Ok(Packet {
                        r#type: PacketType::PacketFin as i32,
                        ..Packet::default()
                    }))
                    .await;
                return;
            }
            Ok(PacketType::PacketErr) => {
                let message = String::from_utf8_lossy(&packet.data).into_owned();
                let _ = sender
                    .send(Err(Status::aborted(format!(
                        "error from receiver: {message}"
                    ))))
                    .await;
                return;
            }
            _ => {}
        }
    }
}

/// Sends each requested file as `DATA` packets and an empty `DATA` packet.
async fn send_requested_files(
    mut requests: mpsc::UnboundedReceiver<(u32, PathBuf)>,
    sender: PacketSender,
) {
    while let Some((id, path)) = requests.recv().await {
        if let Ok(mut file) = tokio::fs::File::open(&path).await {
            let mut buffer = vec![0u8; DATA_CHUNK];
            loop {
                let n = match file.read(&mut buffer).await {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(err) => {
                        let _ = sender
                            .send(Err(Status::data_loss(format!(
                                "reading {}: {err}",
                                path.display()
                            ))))
                            .await;
                        return;
                    }
                };
                let packet = Packet {
                    r#type: PacketType::PacketData as i32,
                    id,
                    data: buffer[..n].to_vec(),
                    ..Packet::default()
                };
                if sender.send(Ok(packet)).await.is_err() {
                    return;
                }
            }
        }
        let end = Packet {
            r#type: PacketType::PacketData as i32,
            id,
            ..Packet::default()
        };
        if sender.send(Ok(end)).await.is_err() {
            return;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn first_value(metadata: &MetadataMap, key: &str) -> Option<String> {
    all_values(metadata, key).into_iter().next()
}

/// Every value of `key`, as the daemon meant it. A daemon before BuildKit v0.12 sends a
/// non-ASCII path (an include pattern naming `test-äöü.txt`) as raw UTF-8 in the header; a
/// newer one query-escapes the values of a key whose `<key>-encoded` header is `true`
/// (`encodeStringForHeader`, PR #3946). A value that is neither is left out.
fn all_values(metadata: &MetadataMap, key: &str) -> Vec<String> {
    let encoded = metadata
        .get(format!("{key}-encoded").as_str())
        .and_then(|value| value.to_str().ok())
        // Go's `strconv.ParseBool` true values.
        .is_some_and(|flag| matches!(flag, "1" | "t" | "T" | "true" | "TRUE" | "True"));
    metadata
        .get_all(key)
        .iter()
        .filter_map(|value| String::from_utf8(value.as_encoded_bytes().to_vec()).ok())
        .filter_map(|value| {
            if encoded {
                query_unescape(&value)
            } else {
                Some(value)
            }
        })
        .collect()
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte; `None` when the bytes are not UTF-8.
fn query_unescape(value: &str) -> Option<String> {
    let spaced = value.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

#[cfg(test)]
mod tests {
    use tonic::metadata::{AsciiMetadataValue, MetadataMap};

    use super::all_values;

    fn header(bytes: &[u8]) -> AsciiMetadataValue {
        AsciiMetadataValue::try_from(bytes).expect("a valid header value")
    }

    #[test]
    fn non_ascii_paths_arrive_raw_from_an_old_daemon_and_escaped_from_a_new_one() {
        let mut old_daemon = MetadataMap::new();
        old_daemon.append("include-patterns", header("test-äöü.txt".as_bytes()));
        old_daemon.append("include-patterns", header(b"plain+name.txt"));
        assert_eq!(
            all_values(&old_daemon, "include-patterns"),
            ["test-äöü.txt", "plain+name.txt"]
        );

        let mut new_daemon = MetadataMap::new();
        new_daemon.append("include-patterns", header(b"test-%C3%A4%C3%B6%C3%BC.txt"));
        new_daemon.append("include-patterns", header(b"with+space%2Bplus"));
        new_daemon.append("include-patterns-encoded", header(b"true"));
        new_daemon.append("followpaths", header(b"test-%C3%A4.txt"));
        assert_eq!(
            all_values(&new_daemon, "include-patterns"),
            ["test-äöü.txt", "with space+plus"]
        );
        // Only the key the daemon marked is unescaped.
        assert_eq!(all_values(&new_daemon, "followpaths"), ["test-%C3%A4.txt"]);
    }
}
