//! The requests of the language server: each one reads the stored analysis of a document (or
//! plans it for the options asked) and answers in LSP types.
//!
//! Input: an LSP request. Output: its result or an error naming what to do.
//! Invariant: no request runs the planner on a document's text except `stageplan/plan` and the
//! lens commands, which plan for options other than the settings.

use std::collections::{BTreeMap, HashMap};

use lsp_server::{ErrorCode, Request, Response};
use lsp_types::request::{
    CodeActionRequest, CodeLensRequest, Completion, DocumentSymbolRequest, ExecuteCommand,
    GotoDefinition, HoverRequest, PrepareRenameRequest, References, Rename, Request as _,
};
use lsp_types::{
    CodeActionParams, CodeLensParams, CompletionParams, DocumentSymbolParams,
    DocumentSymbolResponse, ExecuteCommandParams, GotoDefinitionParams, GotoDefinitionResponse,
    Hover, HoverContents, HoverParams, Location, MarkupContent, MarkupKind, MessageType,
    PrepareRenameResponse, ReferenceParams, RenameParams, TextDocumentIdentifier,
    TextDocumentPositionParams, Uri, WorkspaceEdit,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::documents::Document;
use super::navigation::{
    self, at, definition_range, lsp_range, rename_edits, rename_range, stage_of, At,
};
use super::{actions, completion, hover, symbols, Failure, Server, PLAN_REQUEST};

/// The parameters of `stageplan/plan`: the document, and options that override the settings.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlanParams {
    text_document: TextDocumentIdentifier,
    #[serde(default)]
    targets: Option<Vec<String>>,
    #[serde(default, alias = "build_args")]
    build_args: Option<BTreeMap<String, String>>,
    #[serde(default)]
    platform: Option<String>,
}

fn parse<P: DeserializeOwned>(params: Value) -> Result<P, Failure> {
    serde_json::from_value(params).map_err(|e| Failure::invalid(format!("invalid parameters: {e}")))
}

impl Server {
    fn document(&self, uri: &Uri) -> Result<&Document, Failure> {
        self.documents.get(uri.as_str()).ok_or_else(|| {
            Failure::invalid(format!(
                "{} is not open; open it in the editor first",
                uri.as_str()
            ))
        })
    }

    /// Answers one request.
    pub(super) fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        match self.dispatch(request) {
            Ok(result) => Response::new_ok(id, result),
            Err(Failure(code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    fn dispatch(&mut self, request: Request) -> Result<Value, Failure> {
        let params = request.params;
        let to_value = |value: Result<Value, serde_json::Error>| {
            value.map_err(|e| Failure(ErrorCode::InternalError, e.to_string()))
        };
        match request.method.as_str() {
            DocumentSymbolRequest::METHOD => {
                let params: DocumentSymbolParams = parse(params)?;
                let document = self.document(&params.text_document.uri)?;
                let response = DocumentSymbolResponse::Nested(symbols::document_symbols(document));
                to_value(serde_json::to_value(response))
            }
            GotoDefinition::METHOD => {
                let params: GotoDefinitionParams = parse(params)?;
                to_value(serde_json::to_value(
                    self.definition(&params.text_document_position_params)?,
                ))
            }
            References::METHOD => {
                let params: ReferenceParams = parse(params)?;
                to_value(serde_json::to_value(self.references(&params)?))
            }
            PrepareRenameRequest::METHOD => {
                let params: TextDocumentPositionParams = parse(params)?;
                let document = self.document(&params.text_document.uri)?;
                let outline = &document.analysis.outline;
                let range =
                    at(outline, params.position).and_then(|found| rename_range(outline, &found));
                to_value(serde_json::to_value(
                    range.map(PrepareRenameResponse::Range),
                ))
            }
            Rename::METHOD => {
                let params: RenameParams = parse(params)?;
                to_value(serde_json::to_value(self.rename(&params)?))
            }
            HoverRequest::METHOD => {
                let params: HoverParams = parse(params)?;
                let position = &params.text_document_position_params;
                let document = self.document(&position.text_document.uri)?;
                let outline = &document.analysis.outline;
                let hover = at(outline, position.position).and_then(|found| {
                    let markdown = hover::hover(outline, &found)?;
                    Some(Hover {
                        contents: HoverContents::Markup(MarkupContent {
                            kind: MarkupKind::Markdown,
                            value: markdown,
                        }),
                        range: found_range(outline, &found),
                    })
                });
                to_value(serde_json::to_value(hover))
            }
            Completion::METHOD => {
                let params: CompletionParams = parse(params)?;
                let position = &params.text_document_position;
                let document = self.document(&position.text_document.uri)?;
                to_value(serde_json::to_value(completion::complete(
                    document,
                    position.position,
                )))
            }
            CodeLensRequest::METHOD => {
                let params: CodeLensParams = parse(params)?;
                let uri = params.text_document.uri;
                let document = self.document(&uri)?;
                to_value(serde_json::to_value(symbols::code_lenses(&uri, document)))
            }
            CodeActionRequest::METHOD => {
                let params: CodeActionParams = parse(params)?;
                let uri = params.text_document.uri;
                let document = self.document(&uri)?;
                let actions =
                    actions::code_actions(&uri, &document.analysis.diagnostics, &params.range);
                to_value(serde_json::to_value(actions))
            }
            ExecuteCommand::METHOD => {
                let params: ExecuteCommandParams = parse(params)?;
                self.execute(params)
            }
            PLAN_REQUEST => {
                let params: PlanParams = parse(params)?;
                let document = self.document(&params.text_document.uri)?;
                let mut options = self.settings.options();
                if let Some(targets) = params.targets {
                    options.targets = targets;
                }
                if let Some(build_args) = params.build_args {
                    options.build_args = build_args;
                }
                if let Some(platform) = params.platform {
                    options.platform = Some(platform).filter(|p| !p.is_empty());
                }
                let outcome = planner::plan_with_context(&document.text, &options, &document.files);
                let outline =
                    planner::outline_with_context(&document.text, &options, &document.files);
                to_value(Ok(json!({
                    "plan": outcome.plan,
                    "diagnostics": outcome.diagnostics,
                    "outline": outline,
                })))
            }
            other => Err(Failure(
                ErrorCode::MethodNotFound,
                format!("stageplan's language server does not handle {other}"),
            )),
        }
    }

    fn definition(
        &self,
        params: &TextDocumentPositionParams,
    ) -> Result<Option<GotoDefinitionResponse>, Failure> {
        let uri = &params.text_document.uri;
        let document = self.document(uri)?;
        let outline = &document.analysis.outline;
        let Some(stage) = at(outline, params.position).and_then(|found| stage_of(outline, &found))
        else {
            return Ok(None);
        };
        let stage = &outline.stages[stage];
        let column = symbols::from_column(stage, &document.text, &document.analysis.lines);
        Ok(Some(GotoDefinitionResponse::Scalar(Location::new(
            uri.clone(),
            definition_range(stage, column),
        ))))
    }

    fn references(&self, params: &ReferenceParams) -> Result<Vec<Location>, Failure> {
        let position = &params.text_document_position;
        let uri = &position.text_document.uri;
        let document = self.document(uri)?;
        let outline = &document.analysis.outline;
        let Some(stage) =
            at(outline, position.position).and_then(|found| stage_of(outline, &found))
        else {
            return Ok(Vec::new());
        };
        let mut locations = Vec::new();
        if params.context.include_declaration {
            if let Some(range) = &outline.stages[stage].name_range {
                locations.push(Location::new(uri.clone(), lsp_range(range)));
            }
        }
        for (range, _) in navigation::references(outline, stage) {
            locations.push(Location::new(uri.clone(), range));
        }
        Ok(locations)
    }

    // See `actions::code_actions` on `Uri` as a map key.
    #[allow(clippy::mutable_key_type)]
    fn rename(&self, params: &RenameParams) -> Result<Option<WorkspaceEdit>, Failure> {
        let position = &params.text_document_position;
        let uri = &position.text_document.uri;
        let document = self.document(uri)?;
        let outline = &document.analysis.outline;
        let Some(found) = at(outline, position.position) else {
            return Ok(None);
        };
        if rename_range(outline, &found).is_none() {
            return Err(Failure(
                ErrorCode::RequestFailed,
                "only a stage name or a reference by name can be renamed (an index such as --from=0 is left alone)".to_string(),
            ));
        }
        let Some(stage) = stage_of(outline, &found) else {
            return Ok(None);
        };
        let edits = rename_edits(outline, stage, &params.new_name).map_err(Failure::invalid)?;
        let mut changes = HashMap::new();
        changes.insert(uri.clone(), edits);
        Ok(Some(WorkspaceEdit {
            changes: Some(changes),
            ..WorkspaceEdit::default()
        }))
    }

    /// The lens commands: `stageplan.showBuild` shows the plan's waves in a message;
    /// `stageplan.copyPlanJson` returns the plan JSON (the client copies it).
    fn execute(&mut self, params: ExecuteCommandParams) -> Result<Value, Failure> {
        let uri: Uri = params
            .arguments
            .first()
            .and_then(Value::as_str)
            .and_then(|uri| uri.parse().ok())
            .ok_or_else(|| {
                Failure::invalid("the command needs the document URI as its first argument")
            })?;
        let targets: Vec<String> = params
            .arguments
            .get(1)
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| {
                Failure::invalid(format!("the second argument must be the target names: {e}"))
            })?
            .unwrap_or_default();
        let document = self.document(&uri)?;
        let mut options = self.settings.options();
        options.targets = targets;
        let outcome = planner::plan_with_context(&document.text, &options, &document.files);
        let Some(plan) = outcome.plan else {
            let first = outcome.diagnostics.iter().find(|d| d.is_error());
            let message = match first {
                Some(d) => format!("no plan: line {}: {} ({})", d.line, d.message, d.code),
                None => "no plan".to_string(),
            };
            return Err(Failure(ErrorCode::RequestFailed, message));
        };
        match params.command.as_str() {
            symbols::SHOW_BUILD => {
                let name = |idx: &usize| hover::display_name(&plan.stages[*idx]).replace('`', "");
                let waves: Vec<String> = plan
                    .waves
                    .iter()
                    .enumerate()
                    .map(|(n, wave)| {
                        format!(
                            "wave {}: {}",
                            n + 1,
                            wave.iter().map(name).collect::<Vec<_>>().join(", ")
                        )
                    })
                    .collect();
                let n_stages: usize = plan.waves.iter().map(Vec::len).sum();
                let targets: Vec<String> = plan.targets.iter().map(name).collect();
                let message = format!(
                    "{} builds {n_stages} stage{} in {} wave{}: {}",
                    targets.join(", "),
                    if n_stages == 1 { "" } else { "s" },
                    plan.waves.len(),
                    if plan.waves.len() == 1 { "" } else { "s" },
                    waves.join("; ")
                );
                self.show(MessageType::INFO, message.clone());
                Ok(Value::String(message))
            }
            symbols::COPY_PLAN_JSON => serde_json::to_string_pretty(&plan)
                .map(Value::String)
                .map_err(|e| Failure(ErrorCode::InternalError, e.to_string())),
            other => Err(Failure(
                ErrorCode::InvalidParams,
                format!("unknown command {other}"),
            )),
        }
    }
}

/// The range of what was found (for hover highlighting).
fn found_range(outline: &planner::Outline, found: &At) -> Option<lsp_types::Range> {
    match found {
        At::StageName { stage } => outline.stages[*stage].name_range.as_ref().map(lsp_range),
        At::Reference { in_stage, edge } => navigation::edge(outline, *in_stage, *edge)
            .and_then(|edge| edge.range.as_ref())
            .map(lsp_range),
    }
}
