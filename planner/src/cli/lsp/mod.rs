//! `planner lsp`: a language server on standard input and output (JSON-RPC, LSP 3.17) over the
//! planner library, with lsp-server and lsp-types (the crates rust-analyzer is built on).
//!
//! Input: LSP messages. Output: diagnostics as you type (every check and error with
//! `codeDescription` links, `# check=` honoured), document symbols, definition, references,
//! rename, hover, completion, code lenses, quick fixes and the custom request `stageplan/plan`.
//! Invariant: everything shown is computed by the planner (`check_with`, `outline`, `plan`,
//! `stage_reference_slot`); this module converts positions and speaks the protocol. Documents
//! are synchronised in full; positions are UTF-16 (the LSP default).

mod actions;
mod completion;
mod documents;
mod hover;
mod navigation;
mod requests;
mod symbols;

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use lsp_server::{Connection, ErrorCode, Message, Notification, Response};
use lsp_types::notification::{
    DidChangeConfiguration, DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Exit,
    Notification as _, PublishDiagnostics, ShowMessage,
};
use lsp_types::request::{Request as _, Shutdown};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, CodeLensOptions,
    CompletionOptions, DidChangeConfigurationParams, DidChangeTextDocumentParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, ExecuteCommandOptions,
    HoverProviderCapability, InitializeParams, MessageType, OneOf, PublishDiagnosticsParams,
    RenameOptions, ServerCapabilities, ServerInfo, ShowMessageParams, TextDocumentSyncCapability,
    TextDocumentSyncKind, Uri,
};
use serde_json::json;

use documents::{context_files, Document, Settings};

/// The custom request that returns plan JSON for a document.
pub const PLAN_REQUEST: &str = "stageplan/plan";

/// Serves one client on stdin/stdout until it sends `shutdown` and `exit` (or closes the
/// connection after `shutdown`).
pub fn serve_stdio() -> Result<()> {
    let (connection, io_threads) = Connection::stdio();
    serve(&connection)?;
    drop(connection);
    io_threads
        .join()
        .context("the language server's input/output failed")?;
    Ok(())
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        document_symbol_provider: Some(OneOf::Left(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec!["=".to_string(), " ".to_string()]),
            ..CompletionOptions::default()
        }),
        code_lens_provider: Some(CodeLensOptions {
            resolve_provider: Some(false),
        }),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: vec![
                symbols::SHOW_BUILD.to_string(),
                symbols::COPY_PLAN_JSON.to_string(),
            ],
            ..ExecuteCommandOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

/// Runs the initialize handshake and the message loop on `connection`.
pub fn serve(connection: &Connection) -> Result<()> {
    let (id, params) = connection
        .initialize_start()
        .context("the client did not initialize")?;
    let params: InitializeParams =
        serde_json::from_value(params).context("invalid initialize parameters")?;
    let mut server = Server::default();
    if let Some(options) = &params.initialization_options {
        match Settings::from_value(options) {
            Ok(Some(settings)) => server.settings = settings,
            Ok(None) => {}
            Err(message) => server.show(MessageType::ERROR, message),
        }
    }
    let result = json!({
        "capabilities": capabilities(),
        "serverInfo": ServerInfo {
            name: "stageplan".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        },
    });
    connection
        .initialize_finish(id, result)
        .context("the client did not finish initializing")?;
    server.flush(connection)?;
    for message in &connection.receiver {
        match message {
            Message::Request(request) if request.method == Shutdown::METHOD => {
                let response = Response::new_ok(request.id, ());
                connection.sender.send(Message::Response(response))?;
                return wait_for_exit(connection);
            }
            Message::Request(request) => {
                let response = server.request(request);
                connection.sender.send(Message::Response(response))?;
            }
            Message::Notification(notification) if notification.method == Exit::METHOD => {
                bail!("the client sent exit without shutdown");
            }
            Message::Notification(notification) => server.notification(notification),
            Message::Response(_) => {}
        }
        server.flush(connection)?;
    }
    Ok(())
}

/// After `shutdown`: requests are refused until `exit`; a client that closes the connection
/// instead of sending `exit` is done too.
fn wait_for_exit(connection: &Connection) -> Result<()> {
    for message in &connection.receiver {
        match message {
            Message::Notification(notification) if notification.method == Exit::METHOD => {
                return Ok(());
            }
            Message::Request(request) => {
                let response = Response::new_err(
                    request.id,
                    ErrorCode::InvalidRequest as i32,
                    "the server is shutting down".to_string(),
                );
                connection.sender.send(Message::Response(response))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A failed request: the LSP error code and a message.
struct Failure(ErrorCode, String);

impl Failure {
    fn invalid(message: impl Into<String>) -> Failure {
        Failure(ErrorCode::InvalidParams, message.into())
    }
}

#[derive(Default)]
struct Server {
    settings: Settings,
    documents: BTreeMap<String, Document>,
    outbox: Vec<Message>,
}

impl Server {
    fn flush(&mut self, connection: &Connection) -> Result<()> {
        for message in self.outbox.drain(..) {
            connection.sender.send(message)?;
        }
        Ok(())
    }

    fn notify<N: lsp_types::notification::Notification>(&mut self, params: N::Params) {
        self.outbox.push(Message::Notification(Notification::new(
            N::METHOD.to_string(),
            params,
        )));
    }

    fn show(&mut self, typ: MessageType, message: String) {
        self.notify::<ShowMessage>(ShowMessageParams { typ, message });
    }

    fn publish(&mut self, uri: &str) {
        let Some(document) = self.documents.get(uri) else {
            return;
        };
        let Ok(parsed_uri) = uri.parse::<Uri>() else {
            return;
        };
        let params = PublishDiagnosticsParams {
            uri: parsed_uri,
            diagnostics: document
                .analysis
                .diagnostics
                .iter()
                .map(actions::lsp_diagnostic)
                .collect(),
            version: Some(document.version),
        };
        self.notify::<PublishDiagnostics>(params);
    }

    fn notification(&mut self, notification: Notification) {
        let method = notification.method.clone();
        let params = notification.params;
        match method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(params) = serde_json::from_value::<DidOpenTextDocumentParams>(params) {
                    let uri = params.text_document.uri.as_str().to_string();
                    let document = Document::new(
                        params.text_document.version,
                        params.text_document.text,
                        &self.settings,
                        context_files(&uri),
                    );
                    self.documents.insert(uri.clone(), document);
                    self.publish(&uri);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(params) = serde_json::from_value::<DidChangeTextDocumentParams>(params) {
                    let uri = params.text_document.uri.as_str().to_string();
                    // Full synchronisation: the last change holds the whole text.
                    if let Some(change) = params.content_changes.into_iter().last() {
                        let files = match self.documents.get(&uri) {
                            Some(known) => known.files.clone(),
                            None => context_files(&uri),
                        };
                        let document = Document::new(
                            params.text_document.version,
                            change.text,
                            &self.settings,
                            files,
                        );
                        self.documents.insert(uri.clone(), document);
                        self.publish(&uri);
                    }
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(params) = serde_json::from_value::<DidCloseTextDocumentParams>(params) {
                    let uri = params.text_document.uri;
                    self.documents.remove(uri.as_str());
                    self.notify::<PublishDiagnostics>(PublishDiagnosticsParams {
                        uri,
                        diagnostics: Vec::new(),
                        version: None,
                    });
                }
            }
            DidChangeConfiguration::METHOD => {
                if let Ok(params) = serde_json::from_value::<DidChangeConfigurationParams>(params) {
                    match Settings::from_value(&params.settings) {
                        Ok(Some(settings)) => {
                            self.settings = settings;
                            let uris: Vec<String> = self.documents.keys().cloned().collect();
                            for uri in uris {
                                if let Some(document) = self.documents.get_mut(&uri) {
                                    document.reanalyse(&self.settings, context_files(&uri));
                                }
                                self.publish(&uri);
                            }
                        }
                        Ok(None) => {}
                        Err(message) => self.show(MessageType::ERROR, message),
                    }
                }
            }
            _ => {}
        }
    }
}
