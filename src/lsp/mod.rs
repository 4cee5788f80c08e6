//! `wanc lsp`: a language server over stdio. Diagnostics as the user types
//! (the same as `wanc check`), hover, go to definition, references,
//! completion, rename, an outline and formatting (`wanc fmt`'s); docs/lsp.md
//! says what each gives.
//!
//! It is built on `lsp-server` and `lsp-types`, rust-analyzer's own pair: a
//! synchronous loop over a channel of messages, with no async runtime to
//! bring in for a server whose every answer is one quick compilation of a
//! small site. Requests are answered in order on one thread.
//!
//! Nothing a client sends makes it panic: a request with parameters of the
//! wrong shape, or for a document that is not open, gets an error response;
//! a notification of the wrong shape is ignored. A stream that is not
//! JSON-RPC at all ends the session with an error (`transport`): after a
//! broken frame there is no finding the next message.

mod complete;
mod diagnostics;
mod hover;
mod navigate;
mod position;
mod transport;
mod workspace;

pub use transport::stdio;

use lsp_server::{Connection, ErrorCode, Message, Notification, ProtocolError, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument, Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, PrepareRenameRequest, References, Rename,
    Request as _,
};
use lsp_types::{
    CompletionOptions, GotoDefinitionResponse, OneOf, PositionEncodingKind, PrepareRenameResponse, PublishDiagnosticsParams,
    RenameOptions, ServerCapabilities, ServerInfo, TextDocumentPositionParams, TextDocumentSyncCapability, TextDocumentSyncKind,
    Url,
};
use position::Lines;
use std::collections::BTreeSet;
use workspace::{Analysis, Workspace};

/// Why a request failed, as its error response says.
#[derive(Debug)]
pub struct Failure {
    code: ErrorCode,
    message: String,
}

impl Failure {
    fn failed(message: String) -> Failure {
        Failure { code: ErrorCode::RequestFailed, message }
    }
}

/// What the server can do, as `initialize` answers.
fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![" ".into(), ",".into(), "(".into()]),
            ..CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

/// Serves one client on `connection` until it shuts the server down or
/// the connection ends.
pub fn serve(connection: &Connection) -> Result<(), ProtocolError> {
    let initialize = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": ServerInfo { name: "wanc".into(), version: Some(crate::VERSION.into()) },
    });
    let (id, _) = connection.initialize_start()?;
    connection.initialize_finish(id, initialize)?;
    let mut server = Server { workspace: Workspace::default(), published: BTreeSet::new(), codes: diagnostics::codes_page() };
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    return Ok(());
                }
                let response = server.request(request);
                if !send(connection, Message::Response(response)) {
                    break;
                }
            }
            Message::Notification(notification) => {
                if server.notification(notification) {
                    let all = server.publish();
                    if !all.into_iter().all(|publish| send(connection, Message::Notification(publish))) {
                        break;
                    }
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

/// Sends a message; `false` when the client is gone (its output closed).
fn send(connection: &Connection, message: Message) -> bool {
    connection.sender.send(message).is_ok()
}

struct Server {
    workspace: Workspace,
    /// The files that have diagnostics shown, to be cleared when they have
    /// none any more.
    published: BTreeSet<Url>,
    codes: Option<Url>,
}

impl Server {
    fn request(&mut self, request: Request) -> Response {
        let Request { id, method, params } = request;
        let result = match method.as_str() {
            HoverRequest::METHOD => self.answer::<HoverRequest>(params, |s, p| s.hover(p)),
            GotoDefinition::METHOD => self.answer::<GotoDefinition>(params, |s, p| s.definition(p)),
            References::METHOD => self.answer::<References>(params, |s, p| s.references(p)),
            PrepareRenameRequest::METHOD => self.answer::<PrepareRenameRequest>(params, |s, p| s.prepare_rename(p)),
            Rename::METHOD => self.answer::<Rename>(params, |s, p| s.rename(p)),
            Completion::METHOD => self.answer::<Completion>(params, |s, p| s.complete(p)),
            Formatting::METHOD => self.answer::<Formatting>(params, |s, p| s.format(p)),
            DocumentSymbolRequest::METHOD => self.answer::<DocumentSymbolRequest>(params, |s, p| s.outline(p)),
            _ => Err(Failure { code: ErrorCode::MethodNotFound, message: format!("unknown method `{method}`") }),
        };
        respond(id, result)
    }

    /// Reads a request's parameters, runs `f` on them, and writes its result.
    fn answer<R: lsp_types::request::Request>(
        &mut self,
        params: serde_json::Value,
        f: impl FnOnce(&mut Server, R::Params) -> Result<R::Result, Failure>,
    ) -> Result<serde_json::Value, Failure> {
        let params = serde_json::from_value(params).map_err(|e| Failure {
            code: ErrorCode::InvalidParams,
            message: format!("invalid parameters for `{}`: {e}", R::METHOD),
        })?;
        let result = f(self, params)?;
        serde_json::to_value(result).map_err(|e| Failure { code: ErrorCode::InternalError, message: e.to_string() })
    }

    /// Acts on a notification; `true` when the documents changed.
    fn notification(&mut self, notification: Notification) -> bool {
        let Notification { method, params } = notification;
        fn read<T: serde::de::DeserializeOwned>(params: serde_json::Value) -> Option<T> {
            serde_json::from_value(params).ok()
        }
        match method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Some(p) = read::<lsp_types::DidOpenTextDocumentParams>(params) else { return false };
                self.workspace.open(p.text_document.uri, p.text_document.text, p.text_document.version);
                true
            }
            DidChangeTextDocument::METHOD => {
                let Some(p) = read::<lsp_types::DidChangeTextDocumentParams>(params) else { return false };
                let uri = p.text_document.uri;
                let Some(mut text) = self.workspace.document(&uri).map(|d| d.text.clone()) else { return false };
                // Full sync sends the whole text; a client that sends ranges
                // anyway is followed.
                for change in p.content_changes {
                    match change.range {
                        None => text = change.text,
                        Some(range) => {
                            let lines = Lines::new(&text);
                            let (start, end) = (lines.offset(range.start), lines.offset(range.end));
                            text.replace_range(start..end.max(start), &change.text);
                        }
                    }
                }
                self.workspace.change(&uri, text, p.text_document.version)
            }
            DidCloseTextDocument::METHOD => {
                let Some(p) = read::<lsp_types::DidCloseTextDocumentParams>(params) else { return false };
                self.workspace.close(&p.text_document.uri);
                true
            }
            DidSaveTextDocument::METHOD => {
                self.workspace.refresh();
                true
            }
            _ => false,
        }
    }

    /// The diagnostics of every file of every open site, and an empty list
    /// for each file that had some and is no longer in any.
    fn publish(&mut self) -> Vec<Notification> {
        let mut out = Vec::new();
        let mut now = BTreeSet::new();
        for (uri, analysis, file) in self.workspace.files() {
            let diagnostics = diagnostics::of_file(analysis, file, self.codes.as_ref());
            let version = self.workspace.document(&uri).map(|d| d.version);
            now.insert(uri.clone());
            out.push(PublishDiagnosticsParams { uri, diagnostics, version });
        }
        for gone in self.published.difference(&now) {
            out.push(PublishDiagnosticsParams { uri: gone.clone(), diagnostics: Vec::new(), version: None });
        }
        self.published = now;
        out.into_iter().map(|p| Notification::new(PublishDiagnostics::METHOD.into(), p)).collect()
    }

    /// The analysis of an open document, its file in it and the offset of
    /// a position.
    fn at(&self, at: &TextDocumentPositionParams) -> Result<(&Analysis, usize, usize), Failure> {
        let uri = &at.text_document.uri;
        let not_open = || Failure::failed(format!("`{uri}` is not open"));
        let doc = self.workspace.document(uri).ok_or_else(not_open)?;
        let analysis = self.workspace.analysis(uri).ok_or_else(not_open)?;
        let file = analysis.file_of(&workspace::path_of(uri)).ok_or_else(not_open)?;
        Ok((analysis, file, Lines::new(&doc.text).offset(at.position)))
    }

    fn hover(&mut self, p: lsp_types::HoverParams) -> Result<Option<lsp_types::Hover>, Failure> {
        let (analysis, file, offset) = self.at(&p.text_document_position_params)?;
        Ok(hover::hover(analysis, file, offset))
    }

    fn definition(&mut self, p: lsp_types::GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>, Failure> {
        let (analysis, file, offset) = self.at(&p.text_document_position_params)?;
        let target = navigate::target(analysis, file, offset);
        Ok(target.and_then(|t| navigate::definition(analysis, &t)).map(GotoDefinitionResponse::Scalar))
    }

    fn references(&mut self, p: lsp_types::ReferenceParams) -> Result<Option<Vec<lsp_types::Location>>, Failure> {
        let (analysis, file, offset) = self.at(&p.text_document_position)?;
        let target = navigate::target(analysis, file, offset);
        Ok(target.map(|t| navigate::occurrences(&self.workspace, &t, p.context.include_declaration)))
    }

    fn prepare_rename(&mut self, p: TextDocumentPositionParams) -> Result<Option<PrepareRenameResponse>, Failure> {
        let (analysis, file, offset) = self.at(&p)?;
        if navigate::target(analysis, file, offset).is_none() {
            return Err(Failure::failed("only a defined name can be renamed".into()));
        }
        Ok(navigate::name_range(analysis, file, offset).map(PrepareRenameResponse::Range))
    }

    fn rename(&mut self, p: lsp_types::RenameParams) -> Result<Option<lsp_types::WorkspaceEdit>, Failure> {
        let (analysis, file, offset) = self.at(&p.text_document_position)?;
        let target = navigate::target(analysis, file, offset)
            .ok_or_else(|| Failure::failed("only a defined name can be renamed".into()))?;
        navigate::rename(&self.workspace, &target, &p.new_name).map(Some)
    }

    /// The whole document in `wanc fmt`'s layout, as one edit (none when
    /// it is laid out already). Refused while it has syntax errors, as
    /// `wanc fmt` refuses: a skipped line has no layout.
    fn format(&mut self, p: lsp_types::DocumentFormattingParams) -> Result<Option<Vec<lsp_types::TextEdit>>, Failure> {
        let uri = &p.text_document.uri;
        let doc = self.workspace.document(uri).ok_or_else(|| Failure::failed(format!("`{uri}` is not open")))?;
        let formatted = crate::format::format(&doc.text)
            .map_err(|_| Failure::failed("the file has syntax errors, which `wanc fmt` leaves as they are".into()))?;
        if formatted == doc.text {
            return Ok(Some(Vec::new()));
        }
        let whole = Lines::new(&doc.text).range(0, doc.text.len());
        Ok(Some(vec![lsp_types::TextEdit::new(whole, formatted)]))
    }

    fn outline(&mut self, p: lsp_types::DocumentSymbolParams) -> Result<Option<lsp_types::DocumentSymbolResponse>, Failure> {
        let start = TextDocumentPositionParams::new(p.text_document, lsp_types::Position::default());
        let (analysis, file, _) = self.at(&start)?;
        Ok(Some(lsp_types::DocumentSymbolResponse::Nested(navigate::symbols(analysis, file))))
    }

    fn complete(&mut self, p: lsp_types::CompletionParams) -> Result<Option<lsp_types::CompletionResponse>, Failure> {
        let (analysis, file, offset) = self.at(&p.text_document_position)?;
        let items = complete::complete(analysis.text(file), offset, &analysis.index);
        Ok(Some(lsp_types::CompletionResponse::Array(items)))
    }
}

fn respond(id: RequestId, result: Result<serde_json::Value, Failure>) -> Response {
    match result {
        Ok(value) => Response::new_ok(id, value),
        Err(failure) => Response::new_err(id, failure.code as i32, failure.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Wan-like text: the language's words and punctuation, and anything.
    fn text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("uplink a {\n".to_string()),
            Just("interface e0\n".to_string()),
            Just("}\n".to_string()),
            Just("policy { default via a, b }\n".to_string()),
            Just("state s when a && !b {\n".to_string()),
            Just("import \"x.wan\"\n".to_string()),
            Just("route from 10.0.0.0/8 via balance(a".to_string()),
            Just("# €😀\r\n".to_string()),
            any::<String>(),
        ];
        prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any text, any position: every request is answered, and
        /// positions map to offsets inside the text.
        #[test]
        fn any_text_any_position(text in text(), line in 0u32..20, character in prop_oneof![0u32..40, Just(u32::MAX)]) {
            let lines = Lines::new(&text);
            let offset = lines.offset(lsp_types::Position::new(line, character));
            prop_assert!(offset <= text.len() && text.is_char_boundary(offset));
            prop_assert!(lines.offset(lines.position(offset)) == offset);

            let uri = Url::parse("file:///nowhere/any.wan").unwrap();
            let mut server = Server { workspace: Workspace::default(), published: BTreeSet::new(), codes: None };
            server.workspace.open(uri.clone(), text, 1);
            server.publish();
            let at = TextDocumentPositionParams::new(
                lsp_types::TextDocumentIdentifier::new(uri),
                lsp_types::Position::new(line, character),
            );
            let (analysis, file, offset) = server.at(&at).map_err(|f| TestCaseError::fail(f.message))?;
            hover::hover(analysis, file, offset);
            complete::complete(analysis.text(file), offset, &analysis.index);
            if let Some(target) = navigate::target(analysis, file, offset) {
                navigate::definition(analysis, &target);
                navigate::occurrences(&server.workspace, &target, true);
                let _ = navigate::rename(&server.workspace, &target, "renamed");
            }
        }
    }
}
