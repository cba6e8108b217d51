//! Streaming archives between blocking tar code and the engine's HTTP bodies.
//!
//! Input: a blocking producer that writes a tar (and optionally reads one that the engine
//! streams down).
//! Output: a byte stream for an upload body, and the producer's result.
//! Invariant: tar work runs on a blocking thread, never on the async workers; nothing holds a
//! whole archive in memory (the pipe buffers [`PIPE_BUFFER`] bytes); a producer that fails
//! ends the upload stream with an error, so the engine never commits a truncated archive.

use std::io::{Read, Write};

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use tokio::task::JoinHandle;
use tokio_util::io::{ReaderStream, StreamReader, SyncIoBridge};

/// Bytes buffered between the producer and the upload.
pub const PIPE_BUFFER: usize = 256 * 1024;

/// An upload body.
pub type ByteStream = std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Runs `produce` on a blocking thread with a writer whose bytes become the returned stream;
/// the handle yields `produce`'s result once the stream has been consumed.
pub fn spawn_producer<T, E, F>(produce: F) -> (ByteStream, JoinHandle<Result<T, E>>)
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
    F: FnOnce(&mut dyn Write) -> Result<T, E> + Send + 'static,
{
    let (writer, reader) = tokio::io::duplex(PIPE_BUFFER);
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<String>();
    let mut bridge = SyncIoBridge::new(writer);
    let handle = tokio::task::spawn_blocking(move || {
        let result = produce(&mut bridge);
        let flushed = bridge.flush();
        if let Err(e) = &result {
            let _ = failed_tx.send(e.to_string());
        } else if let Err(e) = flushed {
            let _ = failed_tx.send(e.to_string());
        }
        drop(bridge);
        result
    });
    let tail = futures_util::stream::once(async move {
        match failed_rx.await {
            Ok(message) => Some(Err(std::io::Error::other(message))),
            Err(_) => None,
        }
    })
    .filter_map(std::future::ready);
    (Box::pin(ReaderStream::new(reader).chain(tail)), handle)
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
        let (stream, handle) = spawn_producer(|out| {
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
        assert_eq!(handle.await.expect("join"), Err("disk gone".to_string()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_big_archive_streams_through_a_small_buffer() {
        let size = PIPE_BUFFER * 8 + 13;
        let (stream, handle) = spawn_producer(move |out| {
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
        assert_eq!(handle.await.expect("join"), Ok(size));
    }
}
