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
//! name and renamed into place when whole (a failed or cancelled export removes it); one export
//! per session.

use std::sync::{Arc, Mutex};

use bollard_buildkit_proto::moby::filesync::v1::file_send_server::FileSend;
use bollard_buildkit_proto::moby::filesync::v1::BytesMessage;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::export::Output;

/// What the export did: `None` until the daemon sent it, then how many bytes (tar) or entries
/// (directory) were written, or why writing failed.
pub type Written = Arc<Mutex<Option<Result<u64, std::io::Error>>>>;

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
            let result = receive(incoming, &output).await;
            let failure = result.as_ref().err().map(|e| {
                Status::internal(format!("writing --output {}: {e}", output.dest().display()))
            });
            // Reported before the answer ends: the solve can only return after that.
            if let Ok(mut slot) = written.lock() {
                *slot = Some(result);
            }
            if let Some(status) = failure {
                let _ = answer.send(Err(status)).await;
            }
            // Dropping the sender ends the answer: the daemon's exporter is done.
        });
        Ok(Response::new(ReceiverStream::new(answers)))
    }
}

/// Writes the received tar to `output`.
async fn receive(incoming: Streaming<BytesMessage>, output: &Output) -> std::io::Result<u64> {
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
            let partial = file.as_deref().map(Partial::beside);
            let mut sink: Box<dyn tokio::io::AsyncWrite + Send + Unpin> = match &partial {
                Some(partial) => Box::new(tokio::fs::File::create(&partial.path).await?),
                None => Box::new(tokio::io::stdout()),
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
    path: std::path::PathBuf,
    kept: bool,
}

impl Partial {
    fn beside(file: &std::path::Path) -> Partial {
        let name = file.file_name().map_or_else(
            || "export.tar".into(),
            |name| name.to_string_lossy().into_owned(),
        );
        Partial {
            path: file.with_file_name(format!(".{name}.stageplan-{}.partial", std::process::id())),
            kept: false,
        }
    }

    fn rename_to(mut self, file: &std::path::Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, file)?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
