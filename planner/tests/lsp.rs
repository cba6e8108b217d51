//! `planner lsp` at the protocol level: the binary is started, spoken to over stdio with
//! JSON-RPC (LSP base protocol framing), and every feature is asserted on a real exchange:
//! diagnostics, symbols, definition, references, rename, hover, completion, code lenses, quick
//! fixes, the `stageplan/plan` request, a file with errors from the start, settings changes and
//! shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: i64,
    /// Notifications received while waiting for responses.
    notifications: Vec<Value>,
}

const URI: &str = "file:///project/Dockerfile";

impl Client {
    fn start(initialization_options: Value) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_planner"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("planner lsp starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut client = Client {
            child,
            stdin,
            stdout,
            next_id: 0,
            notifications: Vec::new(),
        };
        let result = client.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": {}, "initializationOptions": initialization_options}),
        );
        assert_eq!(result["serverInfo"]["name"], "stageplan");
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        let mut length = None;
        loop {
            let mut header = String::new();
            assert!(
                self.stdout.read_line(&mut header).unwrap() > 0,
                "server closed its output"
            );
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some(value) = header.strip_prefix("Content-Length: ") {
                length = Some(value.parse::<usize>().unwrap());
            }
        }
        let mut body = vec![0; length.expect("Content-Length header")];
        self.stdout.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The full response (result or error) of a request.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self.receive();
            if message.get("id") == Some(&json!(id)) {
                return message;
            }
            self.notifications.push(message);
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.call(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    /// The diagnostics last published for `uri` (waits for them).
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let found = self.notifications.iter().rev().find(|n| {
                n["method"] == "textDocument/publishDiagnostics" && n["params"]["uri"] == uri
            });
            if let Some(found) = found {
                let list = found["params"]["diagnostics"].as_array().unwrap().clone();
                self.notifications.clear();
                return list;
            }
            let message = self.receive();
            self.notifications.push(message);
        }
    }

    fn open(&mut self, uri: &str, text: &str) -> Vec<Value> {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "dockerfile", "version": 1, "text": text}}),
        );
        self.diagnostics(uri)
    }

    fn at(&mut self, method: &str, uri: &str, line: u32, character: u32, extra: Value) -> Value {
        let mut params = json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}});
        if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
            params.extend(extra.clone());
        }
        self.request(method, params)
    }

    fn shutdown(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "planner lsp exits 0 after shutdown and exit"
        );
    }
}

const FILE: &str = "FROM golang:1.22 AS Build
RUN go build -o /app
FROM build AS test
RUN go test
FROM alpine AS prod
COPY --from=build /app /app
COPY --from=0 /x /x
CMD /app
";

fn range(line: u32, start: u32, end: u32) -> Value {
    json!({"start": {"line": line, "character": start}, "end": {"line": line, "character": end}})
}

#[test]
fn every_feature_over_stdio() {
    let mut client = Client::start(json!({"targets": ["prod"]}));

    let diagnostics = client.open(URI, FILE);
    let codes: Vec<&str> = diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["StageNameCasing", "JSONArgsRecommended"]);
    assert_eq!(diagnostics[0]["range"], range(0, 20, 25));
    assert_eq!(diagnostics[0]["severity"], 2);
    assert_eq!(diagnostics[0]["source"], "stageplan");
    assert_eq!(
        diagnostics[0]["codeDescription"]["href"],
        "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/"
    );

    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": URI}}),
    );
    let outline: Vec<(String, String)> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        outline,
        vec![
            (
                "build".to_string(),
                "FROM golang:1.22 · needed, wave 1".to_string()
            ),
            ("test".to_string(), "FROM build · skipped".to_string()),
            (
                "prod".to_string(),
                "FROM alpine · needed, wave 2".to_string()
            ),
        ]
    );
    assert_eq!(symbols[0]["selectionRange"], range(0, 20, 25));
    assert_eq!(
        symbols[2]["range"]["end"],
        json!({"line": 7, "character": 8})
    );

    // Definition from `--from=build` (line 5) and from the FROM base `build` (line 2).
    let definition = client.at("textDocument/definition", URI, 5, 14, json!({}));
    assert_eq!(definition["range"], range(0, 20, 25));
    let definition = client.at("textDocument/definition", URI, 2, 6, json!({}));
    assert_eq!(definition["uri"], URI);
    assert_eq!(definition["range"], range(0, 20, 25));

    let references = client.at(
        "textDocument/references",
        URI,
        0,
        21,
        json!({"context": {"includeDeclaration": true}}),
    );
    let places: Vec<Value> = references
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["range"].clone())
        .collect();
    assert_eq!(
        places,
        vec![
            range(0, 20, 25),
            range(2, 5, 10),
            range(5, 12, 17),
            range(6, 12, 13)
        ]
    );

    // Rename: AS, FROM and --from= by name; the index reference stays.
    let prepared = client.at("textDocument/prepareRename", URI, 5, 13, json!({}));
    assert_eq!(prepared, range(5, 12, 17));
    assert_eq!(
        client.at("textDocument/prepareRename", URI, 6, 12, json!({})),
        Value::Null
    );
    let edit = client.at(
        "textDocument/rename",
        URI,
        0,
        22,
        json!({"newName": "compile"}),
    );
    let edits = edit["changes"][URI].as_array().unwrap();
    let renamed: Vec<(Value, &str)> = edits
        .iter()
        .map(|e| (e["range"].clone(), e["newText"].as_str().unwrap()))
        .collect();
    assert_eq!(
        renamed,
        vec![
            (range(0, 20, 25), "compile"),
            (range(2, 5, 10), "compile"),
            (range(5, 12, 17), "compile")
        ]
    );
    let refused = client.call(
        "textDocument/rename",
        json!({"textDocument": {"uri": URI}, "position": {"line": 0, "character": 22}, "newName": "1bad"}),
    );
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invalid stage name \"1bad\""));

    let hover = client.at("textDocument/hover", URI, 2, 7, json!({}));
    let markdown = hover["contents"]["value"].as_str().unwrap();
    assert!(
        markdown.starts_with("**stage `build`** (index 0)"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- base: image `golang:1.22` (`FROM golang:1.22`)"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- needed by the target `prod`; wave 1 of 2"),
        "{markdown}"
    );
    assert!(
        markdown.contains("`test` (FROM, line 3)")
            && markdown.contains("`prod` (COPY --from, line 6)"),
        "{markdown}"
    );
    let hover = client.at("textDocument/hover", URI, 4, 7, json!({}));
    assert!(hover["contents"]["value"]
        .as_str()
        .unwrap()
        .starts_with("**image `alpine`** — FROM of stage `prod`"));

    let lenses = client.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": URI}}),
    );
    let titles: Vec<(u64, &str)> = lenses
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["range"]["start"]["line"].as_u64().unwrap(),
                l["command"]["title"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        titles,
        vec![
            (0, "builds 1 stage"),
            (0, "copy plan JSON"),
            (2, "builds 2 stages"),
            (2, "copy plan JSON"),
            (4, "builds 2 stages"),
            (4, "copy plan JSON"),
        ]
    );
    let copy = &lenses[5]["command"];
    let json_text = client.request(
        "workspace/executeCommand",
        json!({"command": copy["command"], "arguments": copy["arguments"]}),
    );
    let plan: Value = serde_json::from_str(json_text.as_str().unwrap()).unwrap();
    assert_eq!(
        (plan["version"].clone(), plan["targets"].clone()),
        (json!(1), json!([2]))
    );
    let show = &lenses[2]["command"];
    let message = client.request(
        "workspace/executeCommand",
        json!({"command": show["command"], "arguments": show["arguments"]}),
    );
    assert_eq!(
        message,
        "test builds 2 stages in 2 waves: wave 1: build; wave 2: test"
    );

    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": URI}, "range": range(7, 0, 0), "context": {"diagnostics": []}}),
    );
    assert_eq!(actions.as_array().unwrap().len(), 1);
    assert_eq!(actions[0]["kind"], "quickfix");
    assert_eq!(
        actions[0]["edit"]["changes"][URI][0]["newText"],
        "CMD [\"/app\"]"
    );
    assert_eq!(
        actions[0]["edit"]["changes"][URI][0]["range"],
        range(7, 0, 8)
    );

    let planned = client.request(
        "stageplan/plan",
        json!({"textDocument": {"uri": URI}, "targets": ["test"]}),
    );
    assert_eq!(planned["plan"]["targets"], json!([1]));
    assert_eq!(planned["plan"]["waves"], json!([[0], [1]]));
    assert_eq!(planned["outline"]["complete"], true);

    // Completion after `COPY --from=` in the last stage offers the earlier stages (by name,
    // and by index for an unnamed one), and after a new `FROM ` every stage above.
    let typed = format!("{FILE}COPY --from=\nFROM ");
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": typed}]}),
    );
    client.diagnostics(URI);
    let items = client.at("textDocument/completion", URI, 8, 12, json!({}));
    let labels: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, vec!["build", "test"]);
    assert_eq!(items[0]["textEdit"]["range"], range(8, 12, 12));
    let items = client.at("textDocument/completion", URI, 9, 5, json!({}));
    let labels: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, vec!["build", "test", "prod"]);
    assert_eq!(
        client.at("textDocument/completion", URI, 1, 3, json!({})),
        json!([])
    );

    client.shutdown();
}

#[test]
fn a_file_with_errors_from_the_start_still_has_its_stages() {
    let mut client = Client::start(Value::Null);
    let text = "FROM alpine AS base\nRUNN oops\nFROM base AS app\nCOPY --from=base /a /a\nCOPY --from=nowhere! /b /b\n";
    let diagnostics = client.open(URI, text);
    let errors: Vec<&str> = diagnostics
        .iter()
        .filter(|d| d["severity"] == 1)
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(errors, vec!["ParseError", "InvalidFrom"]);
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": URI}}),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["base", "app"]);
    let definition = client.at("textDocument/definition", URI, 3, 13, json!({}));
    assert_eq!(definition["range"], range(0, 15, 19));
    let planned = client.request("stageplan/plan", json!({"textDocument": {"uri": URI}}));
    assert_eq!(planned["plan"], Value::Null);
    assert_eq!(planned["outline"]["complete"], false);
    assert_eq!(planned["outline"]["stages"].as_array().unwrap().len(), 2);

    // New settings re-check open documents: a target that does not exist is reported.
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"stageplan": {"targets": ["nope"]}}}),
    );
    let diagnostics = client.diagnostics(URI);
    assert!(diagnostics.iter().any(|d| d["code"] == "UnknownTarget"));
    // A request for a document that is not open names the fix.
    let response = client.call(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": "file:///other"}}),
    );
    assert!(response["error"]["message"]
        .as_str()
        .unwrap()
        .contains("is not open"));
    client.shutdown();
}

#[test]
fn closing_the_connection_after_shutdown_is_a_clean_exit() {
    let mut client = Client::start(Value::Null);
    assert_eq!(client.request("shutdown", Value::Null), Value::Null);
    let refused = client.call(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": URI}}),
    );
    assert_eq!(refused["error"]["message"], "the server is shutting down");
    drop(client.stdin);
    assert!(client.child.wait().unwrap().success());
}

/// A `file:` Dockerfile gets the `.dockerignore` BuildKit would apply: the folder's, or
/// `<Dockerfile>.dockerignore` beside it when there is one (percent-encoded paths included).
#[test]
fn copy_ignored_file_uses_the_dockerignore_beside_the_document() {
    let dir = std::env::temp_dir().join(format!("planner-lsp-{} ignore", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".dockerignore"), "secret.txt\n").unwrap();
    std::fs::write(dir.join("app.Dockerfile.dockerignore"), "*.md\n").unwrap();
    let encoded = dir.to_str().unwrap().replace(' ', "%20");
    let text = "FROM scratch\nCOPY secret.txt notes.md /\n";
    let ignored = |diagnostics: Vec<Value>| -> Vec<String> {
        diagnostics
            .iter()
            .filter(|d| d["code"] == "CopyIgnoredFile")
            .map(|d| d["message"].as_str().unwrap().to_string())
            .collect()
    };
    let mut client = Client::start(Value::Null);
    let folder = client.open(&format!("file://{encoded}/Dockerfile"), text);
    assert_eq!(
        ignored(folder),
        vec!["Attempting to Copy file \"secret.txt\" that is excluded by .dockerignore"]
    );
    let beside = client.open(&format!("file://{encoded}/app.Dockerfile"), text);
    assert_eq!(
        ignored(beside),
        vec!["Attempting to Copy file \"notes.md\" that is excluded by .dockerignore"]
    );
    // No file, no warning (an untitled document, or a folder without .dockerignore).
    assert!(ignored(client.open(URI, text)).is_empty());
    client.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}
