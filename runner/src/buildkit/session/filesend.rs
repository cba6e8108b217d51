//! The session's `moby.filesync.v1.FileSend` service: the stream of BuildKit's tar exporter,
//! written where `--output` says (a tar file, standard output, or unpacked into a directory).
//!
//! Input: the [`Output`]; one `DiffCopy` call from the daemon, whose messages are the tar's
//! bytes in order.
//! Output: the tar written (or unpacked); what happened, in the shared [`Written`] for the
//! build's summary and errors.
//! Invariant: the call is answered only once every byte is written (BuildKit's exporter waits
//! for the end of the answer before it reports the export done), and with an error when writing
//! failed, so a failed export never looks complete; a tar file is received under a temporary
//! name and renamed into place when whole (a failed export removes it, and so does a stopped
//! build, through [`Export::stop`], even while the tar is still coming); the temporary name
//! carries the runner's identity, so the next runner exporting there removes the partial tar a
//! killed runner left; one export per session.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bollard_buildkit_proto::moby::filesync::v1::file_send_server::FileSend;
use bollard_buildkit_proto::moby::filesync::v1::BytesMessage;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::export::Output;

/// The export, shared by the session's service and the build: what it did, and the tar file
/// it is receiving.
pub type Written = Arc<Export>;

/// What the export did and the partial tar it is writing.
#[derive(Debug, Default)]
pub struct Export {
    /// `None` until the daemon sent the files, then how many bytes (tar) or entries (directory)
    /// were written, or why writing failed.
    written: Mutex<Option<Result<u64, std::io::Error>>>,
    /// The tar file being received.
    receiving: Mutex<Receiving>,
}

/// The partial tar of an export to a file.
#[derive(Debug, Default)]
struct Receiving {
    /// The build was stopped: no partial tar is made or renamed into place any more.
    stopped: bool,
    /// The partial tar on disk, until it is renamed into place or removed.
    partial: Option<PathBuf>,
}

impl Export {
    /// What the export did, taken once.
    pub fn take_written(&self) -> Option<Result<u64, std::io::Error>> {
        lock(&self.written).take()
    }

    /// Stops the export when the build ends: a partial tar is removed now (the task receiving
    /// it may still run when the runner exits), and none is made or renamed into place after.
    pub fn stop(&self) {
        let mut receiving = lock(&self.receiving);
        receiving.stopped = true;
        if let Some(partial) = receiving.partial.take() {
            let _ = std::fs::remove_file(partial);
        }
    }

    /// Creates the partial tar beside `file`, unless the build was stopped.
    fn begin(self: &Arc<Self>, file: &Path) -> std::io::Result<(Partial, std::fs::File)> {
        let path = partial_path(file);
        if let Some(dir) = path.parent() {
            // A partial tar a killed runner left here goes first.
            crate::containers::reaper::sweep_dead_files_in(dir);
        }
        let mut receiving = lock(&self.receiving);
        if receiving.stopped {
            return Err(stopped());
        }
        let created = std::fs::File::create(&path)?;
        receiving.partial = Some(path.clone());
        Ok((
            Partial {
                path,
                export: self.clone(),
            },
            created,
        ))
    }
}

fn stopped() -> std::io::Error {
    std::io::Error::other("the build was stopped")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Serves one export to `output`.
pub struct FileSendService {
    output: Mutex<Option<Output>>,
    written: Written,
}

impl FileSendService {
    /// Writes the export to `output`, reporting into `written`.
    pub fn new(output: Output, written: Written) -> FileSendService {
        FileSendService {
            output: Mutex::new(Some(output)),
            written,
        }
    }
}

#[tonic::async_trait]
impl FileSend for FileSendService {
    type DiffCopyStream = ReceiverStream<Result<BytesMessage, Status>>;

    async fn diff_copy(
        &self,
        request: Request<Streaming<BytesMessage>>,
    ) -> Result<Response<Self::DiffCopyStream>, Status> {
        let Some(output) = self.output.lock().map(|mut o| o.take()).unwrap_or(None) else {
            return Err(Status::failed_precondition(
                "this session takes one export, and it was sent already",
            ));
        };
        let incoming = request.into_inner();
        let (answer, answers) = tokio::sync::mpsc::channel(1);
        let written = self.written.clone();
        tokio::spawn(async move {
            let result = receive(incoming, &output, &written).await;
            let failure = result.as_ref().err().map(|e| {
                Status::internal(format!("writing --output {}: {e}", output.dest().display()))
            });
            // Reported before the answer ends: the solve can only return after that.
            *lock(&written.written) = Some(result);
            if let Some(status) = failure {
                let _ = answer.send(Err(status)).await;
            }
            // Dropping the sender ends the answer: the daemon's exporter is done.
        });
        Ok(Response::new(ReceiverStream::new(answers)))
    }
}

/// Writes the received tar to `output`.
async fn receive(
    incoming: Streaming<BytesMessage>,
    output: &Output,
    export: &Written,
) -> std::io::Result<u64> {
    let chunks = incoming.map(|message| {
        message.map(|m| Bytes::from(m.data)).map_err(|status| {
            std::io::Error::other(format!("the export stream broke: {}", status.message()))
        })
    });
    match output {
        Output::Local(dir) => {
            let reader = Box::new(crate::fs::pipe::blocking_reader(chunks));
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || crate::export::unpack_into(reader, &dir))
                .await
                .map_err(std::io::Error::other)?
                .map_err(std::io::Error::other)
        }
        Output::Tar(file) => {
            let (partial, mut sink): (_, Box<dyn tokio::io::AsyncWrite + Send + Unpin>) = match file
            {
                Some(file) => {
                    let (partial, created) = export.begin(file)?;
                    (Some(partial), Box::new(tokio::fs::File::from_std(created)))
                }
                None => (None, Box::new(tokio::io::stdout())),
            };
            let mut total = 0u64;
            let mut chunks = Box::pin(chunks);
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk?;
                sink.write_all(&chunk).await?;
                total += chunk.len() as u64;
            }
            sink.flush().await?;
            drop(sink);
            if let (Some(partial), Some(file)) = (partial, file) {
                partial.rename_to(file)?;
            }
            Ok(total)
        }
    }
}

/// The tar being received, under a temporary name beside its file; removed when dropped (a
/// failed or cancelled export) unless it was renamed into place.
struct Partial {
    path: PathBuf,
    export: Written,
}

impl Partial {
    /// Renames the whole tar into place, unless the build was stopped meanwhile.
    fn rename_to(self, file: &Path) -> std::io::Result<()> {
        let mut receiving = lock(&self.export.receiving);
        if receiving.stopped {
            return Err(stopped());
        }
        std::fs::rename(&self.path, file)?;
        receiving.partial = None;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        let mut receiving = lock(&self.export.receiving);
        if receiving.partial.as_ref() == Some(&self.path) {
            let _ = std::fs::remove_file(&self.path);
            receiving.partial = None;
        }
    }
}

/// The temporary name of the tar being received beside `file`: named like the runner's other
/// temporary objects, so that the next runner removes it when this one was killed.
fn partial_path(file: &Path) -> PathBuf {
    match crate::containers::identity::RunnerIdentity::current() {
        Some(identity) => file.with_file_name(format!("{}tar", identity.prefix())),
        None => {
            let name = file.file_name().map_or_else(
                || "export.tar".into(),
                |name| name.to_string_lossy().into_owned(),
            );
            file.with_file_name(format!(".{name}.stageplan-{}.partial", std::process::id()))
        }
    }
}
