//! Streaming archives between blocking tar code and the engine's HTTP bodies.
//!
//! Input: a blocking producer that writes a tar (and optionally reads one that the engine
//! streams down).
//! Output: a byte stream for an upload body, and the producer's result.
//! Invariant: tar work runs on a blocking thread, never on the async workers; nothing holds a
//! whole archive in memory (the pipe buffers [`PIPE_BUFFER`] bytes); a producer that fails
//! ends the upload stream with an error, so the engine never commits a truncated archive; an
//! upload the engine stops reading is reported as the upload's failure, not as the producer's
//! failure to write into the closed pipe.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use tokio::task::JoinHandle;
use tokio_util::io::{ReaderStream, StreamReader, SyncIoBridge};

/// Bytes buffered between the producer and the upload.
pub const PIPE_BUFFER: usize = 256 * 1024;

/// An upload body.
pub type ByteStream = std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Runs `produce` on a blocking thread with a writer whose bytes become the returned stream;
/// the [`Producer`] yields `produce`'s result once the stream has been consumed.
pub fn spawn_producer<T, E, F>(produce: F) -> (ByteStream, Producer<T, E>)
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
    F: FnOnce(&mut dyn Write) -> Result<T, E> + Send + 'static,
{
    let (writer, reader) = tokio::io::duplex(PIPE_BUFFER);
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<String>();
    let reader_gone = Arc::new(AtomicBool::new(false));
    let mut pipe = PipeWriter {
        bridge: SyncIoBridge::new(writer),
        reader_gone: reader_gone.clone(),
    };
    let handle = tokio::task::spawn_blocking(move || {
        let result = produce(&mut pipe);
        let flushed = pipe.flush();
        if let Err(e) = &result {
            let _ = failed_tx.send(e.to_string());
        } else if let Err(e) = flushed {
            let _ = failed_tx.send(e.to_string());
        }
        drop(pipe);
        result
    });
    let tail = futures_util::stream::once(async move {
        match failed_rx.await {
            Ok(message) => Some(Err(std::io::Error::other(message))),
            Err(_) => None,
        }
    })
    .filter_map(std::future::ready);
    let producer = Producer {
        handle,
        reader_gone,
    };
    (Box::pin(ReaderStream::new(reader).chain(tail)), producer)
}

/// The producer's end of the pipe: notes when a write fails because the upload stopped reading
/// (the engine refused the upload, or its connection broke).
struct PipeWriter {
    bridge: SyncIoBridge<tokio::io::DuplexStream>,
    reader_gone: Arc<AtomicBool>,
}

impl PipeWriter {
    fn noted<R>(&self, result: std::io::Result<R>) -> std::io::Result<R> {
        if result.is_err() {
            self.reader_gone.store(true, Ordering::SeqCst);
        }
        result
    }
}

impl Write for PipeWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.bridge.write(bytes);
        self.noted(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let flushed = self.bridge.flush();
        self.noted(flushed)
    }
}

/// A running producer of an upload's bytes (see [`spawn_producer`]).
pub struct Producer<T, E> {
    handle: JoinHandle<Result<T, E>>,
    reader_gone: Arc<AtomicBool>,
}

/// How a streamed upload ended, with the failure that caused the others.
#[derive(Debug)]
pub enum Uploaded<T, E, U> {
    /// Produced and uploaded.
    Done(T),
    /// The producer failed (reading its source, building the archive) first.
    Producer(E),
    /// The upload failed; a producer error that only says its writes found the pipe closed is
    /// its consequence and is dropped.
    Upload(U),
    /// The producer's thread failed.
    Worker(tokio::task::JoinError),
}

impl<T, E> Producer<T, E> {
    /// Waits for the producer, and tells which failure to report given the upload's result.
    pub async fn finish<U>(self, uploaded: Result<(), U>) -> Uploaded<T, E, U> {
        let produced = self.handle.await;
        let reader_gone = self.reader_gone.load(Ordering::SeqCst);
        match (produced, uploaded) {
            (Err(e), _) => Uploaded::Worker(e),
            (Ok(Err(_)), Err(upload)) if reader_gone => Uploaded::Upload(upload),
            (Ok(Err(e)), _) => Uploaded::Producer(e),
            (Ok(Ok(_)), Err(upload)) => Uploaded::Upload(upload),
            (Ok(Ok(value)), Ok(())) => Uploaded::Done(value),
        }
    }
}

/// A blocking reader over a stream of downloaded bytes; create it on an async thread, read it
/// on a blocking one. A failed download is an I/O error whose text is the download error's
/// whole chain (the engine's own message included): the tar code that meets it wraps it by
/// its text, which would otherwise end at `engine: download /x failed`.
pub fn blocking_reader<S, E>(stream: S) -> impl Read + Send + 'static
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let stream = stream.map_err(|e| std::io::Error::other(DownloadFailed(e)));
    SyncIoBridge::new(StreamReader::new(stream))
}

/// A download that failed, shown with every cause (`engine: download /x failed: Docker
/// responded with status code 500: …`).
#[derive(Debug)]
struct DownloadFailed<E>(E);

impl<E: std::error::Error> std::fmt::Display for DownloadFailed<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

// The text already holds every cause: no source, or a chain printer would repeat them.
impl<E: std::error::Error> std::error::Error for DownloadFailed<E> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_producer_ends_the_stream_with_an_error() {
        let (stream, producer) = spawn_producer(|out| {
            out.write_all(&[7u8; 100_000]).map_err(|e| e.to_string())?;
            Err::<(), String>("disk gone".to_string())
        });
        let items: Vec<std::io::Result<Bytes>> = stream.collect().await;
        let bytes: usize = items
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .map(|b| b.len())
            .sum();
        assert_eq!(bytes, 100_000);
        let last = items.last().expect("items");
        assert!(last.as_ref().is_err_and(|e| e.to_string() == "disk gone"));
        let finished = producer.finish(Err::<(), &str>("body error")).await;
        assert!(matches!(finished, Uploaded::Producer(e) if e == "disk gone"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_big_archive_streams_through_a_small_buffer() {
        let size = PIPE_BUFFER * 8 + 13;
        let (stream, producer) = spawn_producer(move |out| {
            let mut left = size;
            while left > 0 {
                let n = left.min(1000);
                out.write_all(&[1u8; 1000][..n])
                    .map_err(|e| e.to_string())?;
                left -= n;
            }
            Ok::<usize, String>(size)
        });
        let reader = blocking_reader(stream);
        let read = tokio::task::spawn_blocking(move || {
            let mut reader = reader;
            let mut all = Vec::new();
            reader.read_to_end(&mut all).map(|_| all.len())
        });
        assert_eq!(read.await.expect("join").expect("read"), size);
        let finished = producer.finish(Ok::<(), String>(())).await;
        assert!(matches!(finished, Uploaded::Done(n) if n == size));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_upload_that_stops_reading_is_the_failure_reported() {
        let (stream, producer) = spawn_producer(|out| {
            for _ in 0..64 {
                out.write_all(&[3u8; 64 * 1024])
                    .map_err(|e| format!("broken: {e}"))?;
            }
            Ok::<(), String>(())
        });
        // The engine reads a little, then the connection breaks.
        let mut stream = stream;
        let first = stream.next().await;
        assert!(first.is_some_and(|item| item.is_ok()));
        drop(stream);
        let finished = producer.finish(Err::<(), &str>("connection closed")).await;
        assert!(matches!(finished, Uploaded::Upload("connection closed")));
    }
}
