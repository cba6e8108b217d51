//! A fault-injecting proxy for the Engine API, for tests only: it listens on a unix socket in a
//! temporary directory, forwards every HTTP/1.1 exchange to the real engine byte for byte, and
//! lets [`Rule`]s answer, cut or hold chosen requests.
//!
//! Input: rules (a method, a path pattern, which matching request, a [`Fault`]); the runner
//! pointed at [`FaultProxy::url`] (`--engine unix:///…/engine.sock`).
//! Output: the forwarded traffic with the faults applied, and a log of every request with the
//! fault it met ([`FaultProxy::log`], [`FaultProxy::fired`]).
//! Invariant: a request no rule matches reaches the engine unchanged, and so does its answer;
//! a hijacked connection (exec start, attach: `101 UPGRADED`) is spliced both ways after the
//! upgrade; the proxy's runtime and socket directory go away when the proxy drops.

mod wire;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};

use wire::{Copied, Framing, Reader};

/// The engine the proxy forwards to.
const ENGINE_SOCKET: &str = "/var/run/docker.sock";

/// What happens to a request a rule picks.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The proxy answers `500 {"message": …}` itself; the engine never sees the request (its
    /// body is read and dropped).
    Error(String),
    /// The engine performs the request, but the client gets `500 {"message": …}` instead of
    /// the engine's answer (a create that worked, reported as failed).
    ErrorAfter(String),
    /// The request head and this many bytes of its body reach the engine; then both
    /// connections are closed (an upload cut mid-stream).
    CutRequest(u64),
    /// The response head and this many bytes of its body (for an upgraded connection, of the
    /// engine's side of the stream) reach the client; then both connections are closed.
    CutResponse(u64),
    /// The request waits this long before it is forwarded.
    Delay(Duration),
}

/// Picks requests by method and path and says what happens to them.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `POST`, `GET`, …; None for any.
    pub method: Option<String>,
    /// The path without the API version and query, `*` standing for any text within one
    /// segment and `**` for any text: `/containers/*/archive`, `/commit`, `/images/**/json`,
    /// `**` for any path; with a `?`, the query too: `/images/*/tag?repo=app*`.
    pub path: String,
    /// The first matching request (1-based) the fault applies to.
    pub nth: usize,
    /// How many matching requests from there on it applies to (`usize::MAX`: all).
    pub times: usize,
    /// What happens to them.
    pub fault: Fault,
}

impl Rule {
    /// A rule for the `nth` request that is `method path`, once.
    pub fn at(method: &str, path: &str, nth: usize, fault: Fault) -> Rule {
        Rule {
            method: Some(method.to_string()),
            path: path.to_string(),
            nth,
            times: 1,
            fault,
        }
    }

    /// The same rule for every matching request from the `nth` on.
    pub fn and_every_later_match(mut self) -> Rule {
        self.times = usize::MAX;
        self
    }

    /// Whether the request `method target` is one this rule picks: a pattern with a `?` is
    /// matched against the path and query, any other against the path alone.
    fn matches(&self, method: &str, target: &str) -> bool {
        let path = api_path(target);
        let text = match target.split_once('?') {
            Some((_, query)) if self.path.contains('?') => format!("{path}?{query}"),
            _ => path.to_string(),
        };
        self.method.as_deref().is_none_or(|m| m == method) && glob(&self.path, &text)
    }
}

/// Whether `text` matches `pattern`: `*` matches any run of characters other than `/`, `**`
/// any run of characters (image references have slashes: `/images/**/json`).
pub fn glob(pattern: &str, text: &str) -> bool {
    match pattern.find('*') {
        None => pattern == text,
        Some(star) => {
            let Some(text) = text.strip_prefix(&pattern[..star]) else {
                return false;
            };
            let (any, rest) = match pattern[star..].strip_prefix("**") {
                Some(rest) => (true, rest),
                None => (false, &pattern[star + 1..]),
            };
            (0..=text.len())
                .take_while(|&i| any || text.get(..i).is_none_or(|t| !t.contains('/')))
                .filter(|&i| text.is_char_boundary(i))
                .any(|i| glob(rest, &text[i..]))
        }
    }
}

/// The path of a request target without the API version prefix and the query.
pub fn api_path(target: &str) -> &str {
    let path = target.split('?').next().unwrap_or(target);
    match path.strip_prefix("/v") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => {
            rest.find('/').map_or(path, |slash| &rest[slash..])
        }
        _ => path,
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// 1-based, in arrival order over all connections.
    pub seq: usize,
    pub method: String,
    /// The target as sent (with version and query).
    pub target: String,
    /// The index of the rule that fired on it.
    pub rule: Option<usize>,
    /// The status the client got, when it got one.
    pub status: Option<u16>,
    /// The start of the engine's answer (its first 64 KB; empty for an upgraded stream).
    pub body: String,
}

#[derive(Default)]
struct Shared {
    rules: Vec<Rule>,
    /// Matching requests seen so far, per rule.
    matched: Vec<usize>,
    seen: Vec<Seen>,
}

impl Shared {
    /// Logs a request and returns the fault it meets, with the rule's index.
    fn arrive(&mut self, method: &str, target: &str) -> (usize, Option<(usize, Fault)>) {
        let mut fired = None;
        for (index, rule) in self.rules.iter().enumerate() {
            if !rule.matches(method, target) {
                continue;
            }
            self.matched[index] += 1;
            let n = self.matched[index];
            if fired.is_none() && n >= rule.nth && n - rule.nth < rule.times {
                fired = Some((index, rule.fault.clone()));
            }
        }
        let seq = self.seen.len() + 1;
        self.seen.push(Seen {
            seq,
            method: method.to_string(),
            target: target.to_string(),
            rule: fired.as_ref().map(|(index, _)| *index),
            status: None,
            body: String::new(),
        });
        (seq, fired)
    }

    fn kept(&mut self, seq: usize, body: &[u8]) {
        if let Some(seen) = self.seen.get_mut(seq - 1) {
            seen.body = String::from_utf8_lossy(body).into_owned();
        }
    }

    fn answered(&mut self, seq: usize, status: u16) {
        if let Some(seen) = self.seen.get_mut(seq - 1) {
            seen.status = Some(status);
        }
    }
}

/// A running proxy; stopped, and its socket removed, when dropped.
pub struct FaultProxy {
    dir: PathBuf,
    socket: PathBuf,
    shared: Arc<Mutex<Shared>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    /// Starts a proxy to the local engine with `rules`, its socket in a fresh directory named
    /// after `name` under the system's temporary directory.
    pub fn start(name: &str, rules: Vec<Rule>) -> FaultProxy {
        let dir = std::env::temp_dir().join(format!("{}-proxy-{name}", super::prefix()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the proxy's directory");
        let socket = dir.join("engine.sock");
        let shared = Arc::new(Mutex::new(Shared {
            matched: vec![0; rules.len()],
            rules,
            seen: Vec::new(),
        }));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("the proxy's runtime");
        let listener = {
            let _entered = runtime.enter();
            UnixListener::bind(&socket).expect("bind the proxy's socket")
        };
        let accepting = shared.clone();
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = accepting.clone();
                tokio::spawn(async move {
                    // A connection that breaks is the fault or the client's choice; the log
                    // already holds what the test asserts.
                    let _ = serve(client, shared).await;
                });
            }
        });
        FaultProxy {
            dir,
            socket,
            shared,
            runtime: Some(runtime),
        }
    }

    /// The address to give the runner: `unix:///…/engine.sock`.
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Seen> {
        lock(&self.shared).seen.clone()
    }

    /// The ids of the images the engine made for requests through this proxy (commits and
    /// loads), from its answers, also those the client never heard of.
    pub fn images_made(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for seen in lock(&self.shared).seen.iter() {
            let path = api_path(&seen.target);
            if seen.method != "POST" || !(path == "/commit" || path == "/images/load") {
                continue;
            }
            let mut rest = seen.body.as_str();
            while let Some(at) = rest.find("sha256:") {
                let id: String = rest[at + 7..]
                    .chars()
                    .take_while(char::is_ascii_hexdigit)
                    .collect();
                if id.len() == 64 {
                    ids.push(format!("sha256:{id}"));
                }
                rest = &rest[at + 7..];
            }
        }
        ids
    }

    /// How many requests rule `index` applied its fault to.
    pub fn fired(&self, index: usize) -> usize {
        lock(&self.shared)
            .seen
            .iter()
            .filter(|s| s.rule == Some(index))
            .count()
    }

    /// The log as text, one request a line (`12 POST /v1.41/commit?… -> 500 [rule 0]`).
    pub fn log_text(&self) -> String {
        self.log()
            .iter()
            .map(|s| {
                format!(
                    "{} {} {} -> {}{}",
                    s.seq,
                    s.method,
                    s.target,
                    s.status.map_or("-".to_string(), |c| c.to_string()),
                    s.rule.map_or(String::new(), |r| format!(" [rule {r}]"))
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// The two sides of one client connection: the client's halves, and the engine connection
/// its requests are forwarded on (opened with the first forwarded request).
struct Connection {
    client_in: Reader<OwnedReadHalf>,
    client_out: OwnedWriteHalf,
    engine: Option<(Reader<OwnedReadHalf>, OwnedWriteHalf)>,
}

/// Whether a connection goes on after an exchange.
enum Next {
    Keep,
    Close,
}

/// Serves one client connection: its requests one after another (HTTP/1.1 keep-alive).
async fn serve(client: UnixStream, shared: Arc<Mutex<Shared>>) -> std::io::Result<()> {
    let (client_read, client_out) = client.into_split();
    let mut connection = Connection {
        client_in: Reader::new(client_read),
        client_out,
        engine: None,
    };
    while let Some(head) = connection.client_in.head().await? {
        let request = wire::parse_request(&head)?;
        let (seq, fault) = lock(&shared).arrive(&request.method, &request.target);
        let fault = fault.map(|(_, fault)| fault);
        let next = match fault {
            Some(Fault::Error(message)) => {
                // The request never reaches the engine; its body is read and dropped.
                let client_in = &mut connection.client_in;
                wire::forward_body(client_in, None::<&mut UnixStream>, request.framing, None)
                    .await?;
                let answer = wire::error_response(500, &message);
                connection.client_out.write_all(&answer).await?;
                lock(&shared).answered(seq, 500);
                Next::Keep
            }
            Some(Fault::Delay(delay)) => {
                tokio::time::sleep(delay).await;
                forward(&mut connection, &head, &request, None, seq, &shared).await?
            }
            fault => forward(&mut connection, &head, &request, fault, seq, &shared).await?,
        };
        if let Next::Close = next {
            return Ok(());
        }
    }
    Ok(())
}

/// Forwards one request to the engine and its answer back, applying a cut or a replaced
/// answer; splices the connection after an upgrade.
async fn forward(
    connection: &mut Connection,
    head: &[u8],
    request: &wire::RequestHead,
    fault: Option<Fault>,
    seq: usize,
    shared: &Mutex<Shared>,
) -> std::io::Result<Next> {
    if connection.engine.is_none() {
        let (read, write) = UnixStream::connect(ENGINE_SOCKET).await?.into_split();
        connection.engine = Some((Reader::new(read), write));
    }
    let Connection {
        client_in,
        client_out,
        engine,
    } = connection;
    let (engine_in, engine_out) = engine.as_mut().expect("connected above");
    engine_out.write_all(head).await?;
    let (cut_request, cut_response, replace) = match fault {
        Some(Fault::CutRequest(n)) => (Some(n), None, None),
        Some(Fault::CutResponse(n)) => (None, Some(n), None),
        Some(Fault::ErrorAfter(message)) => (None, None, Some(message)),
        _ => (None, None, None),
    };
    let answered = {
        // The request body and the answer travel at the same time: the engine may answer
        // before it has read the whole body.
        let sending = wire::forward_body(
            client_in,
            Some(&mut *engine_out),
            request.framing,
            cut_request,
        );
        let answering = async {
            let Some(head) = engine_in.head().await? else {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            };
            let (response, framing) = wire::parse_response(&head, &request.method)?;
            if let Some(message) = &replace {
                let mut dropped = tokio::io::sink();
                let mut kept = wire::Capturing::new(&mut dropped);
                wire::forward_body(engine_in, Some(&mut kept), framing, None).await?;
                client_out
                    .write_all(&wire::error_response(500, message))
                    .await?;
                lock(shared).answered(seq, 500);
                lock(shared).kept(seq, &kept.kept);
                return Ok((response.status, Copied::Whole, response.close));
            }
            client_out.write_all(&head).await?;
            lock(shared).answered(seq, response.status);
            if response.status == 101 {
                return Ok((response.status, Copied::Whole, false));
            }
            let mut kept = wire::Capturing::new(&mut *client_out);
            let copied =
                wire::forward_body(engine_in, Some(&mut kept), framing, cut_response).await?;
            lock(shared).kept(seq, &kept.kept);
            let closes = response.close || framing == Framing::UntilClose;
            Ok::<_, std::io::Error>((response.status, copied, closes))
        };
        // A cut on either side drops both connections at once (the engine may still wait for
        // the rest of a cut body, and would never answer).
        tokio::pin!(sending, answering);
        let mut sent = false;
        let mut answered = None;
        while !sent || answered.is_none() {
            tokio::select! {
                copied = &mut sending, if !sent => {
                    if copied? == Copied::Cut {
                        return Ok(Next::Close);
                    }
                    sent = true;
                }
                outcome = &mut answering, if answered.is_none() => {
                    let outcome = outcome?;
                    if outcome.1 == Copied::Cut {
                        return Ok(Next::Close);
                    }
                    answered = Some(outcome);
                }
            }
        }
        answered.expect("answered above")
    };
    let (status, _, closes) = answered;
    if status == 101 {
        // A hijacked stream (exec start, attach): raw bytes both ways from here on.
        wire::splice(client_in, client_out, engine_in, engine_out, cut_response).await?;
        return Ok(Next::Close);
    }
    Ok(if closes { Next::Close } else { Next::Keep })
}
