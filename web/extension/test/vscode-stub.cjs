// A small stand-in for the `vscode` module, faithful to the shapes of the real API the extension
// uses, that records what the extension registers and what its webview is sent.
//
// Input: calls from the extension bundle (dist/extension.js). Output: `__test`, the recordings
// (commands, providers, diagnostics, panels and their messages, terminals, clipboard, messages
// shown) and helpers to drive it (open documents, edit them, change the active editor).
// Invariant: no behaviour beyond what VS Code documents for these calls; anything the extension
// calls that is not here throws, so a test cannot pass by silently doing nothing.
"use strict";
const path = require("node:path");

class Disposable {
  constructor(fn = () => {}) { this._fn = fn; }
  dispose() { this._fn(); this._fn = () => {}; }
  static from(...items) { return new Disposable(() => items.forEach((item) => item.dispose())); }
}

class EventEmitter {
  constructor() {
    this._listeners = new Set();
    this.event = (listener) => {
      this._listeners.add(listener);
      return new Disposable(() => this._listeners.delete(listener));
    };
  }
  fire(value) { for (const listener of [...this._listeners]) listener(value); }
  dispose() { this._listeners.clear(); }
}

class Uri {
  constructor(scheme, authority, filePath, query = "", fragment = "") {
    Object.assign(this, { scheme, authority, path: filePath, query, fragment });
  }
  get fsPath() { return this.path; }
  toString() { return `${this.scheme}://${this.authority}${this.path}`; }
  with(change) { return new Uri(change.scheme ?? this.scheme, change.authority ?? this.authority, change.path ?? this.path); }
  toJSON() { return { scheme: this.scheme, path: this.path }; }
  static file(fsPath) { return new Uri("file", "", path.posix.resolve(fsPath)); }
  static parse(text) {
    const match = /^([a-z][\w+.-]*):\/\/([^/]*)(\/[^?#]*)?/i.exec(text);
    if (!match) throw new Error(`Uri.parse: not a URI: ${text}`);
    return new Uri(match[1], match[2], match[3] ?? "/");
  }
  static joinPath(base, ...segments) { return base.with({ path: path.posix.join(base.path, ...segments) }); }
}

class RelativePattern {
  constructor(base, pattern) {
    if (!(base instanceof Uri) && typeof base !== "string") throw new Error("RelativePattern: base must be a Uri or a path");
    this.baseUri = base instanceof Uri ? base : Uri.file(base);
    this.base = this.baseUri.fsPath;
    this.pattern = pattern;
  }
}

class Position {
  constructor(line, character) {
    if (line < 0 || character < 0) throw new Error("Illegal argument: line/character must be non-negative");
    this.line = line;
    this.character = character;
  }
  isEqual(other) { return this.line === other.line && this.character === other.character; }
}

class Range {
  constructor(a, b, c, d) {
    if (typeof a === "number") { this.start = new Position(a, b); this.end = new Position(c, d); }
    else { this.start = a; this.end = b; }
  }
}

class Selection extends Range {
  constructor(anchor, active) { super(anchor, active); this.anchor = anchor; this.active = active; }
}

const DiagnosticSeverity = { Error: 0, Warning: 1, Information: 2, Hint: 3 };
const SymbolKind = { File: 0, Module: 1, Namespace: 2, Package: 3, Class: 4, Method: 5, Property: 6, Field: 7, Constructor: 8, Enum: 9, Interface: 10, Function: 11, Variable: 12 };
const ViewColumn = { Active: -1, Beside: -2, One: 1, Two: 2, Three: 3 };
const TextEditorRevealType = { Default: 0, InCenter: 1, InCenterIfOutsideViewport: 2, AtTop: 3 };

class Diagnostic {
  constructor(range, message, severity = DiagnosticSeverity.Error) { Object.assign(this, { range, message, severity }); }
}
class DocumentSymbol {
  constructor(name, detail, kind, range, selectionRange) {
    Object.assign(this, { name, detail, kind, range, selectionRange, children: [] });
  }
}
class CodeLens {
  constructor(range, command) { Object.assign(this, { range, command, isResolved: !!command }); }
}

/** Everything recorded, and the helpers that drive the stand-in. */
const recorded = {
  commands: new Map(),
  providers: [],
  diagnosticCollections: [],
  panels: [],
  terminals: [],
  clipboard: "",
  infoMessages: [],
  errorMessages: [],
  /** The button the next error message "clicks" (VS Code resolves to the chosen item, or undefined). */
  errorMessageChoice: undefined,
  /** Commands run that VS Code itself provides ("workbench.*"), with their arguments. */
  builtinCommands: [],
  /** The workspace folders (fsPath strings); a document belongs to the one it lies in. */
  workspaceFolders: [],
  serializers: new Map(),
  shownDocuments: [],
  /** showSaveDialog calls, and what the next one answers (a Uri, or undefined for Cancel). */
  saveDialogs: [],
  saveAnswer: undefined,
  /** workspace.fs.writeFile calls: { path, bytes }. */
  written: [],
  /** createFileSystemWatcher calls: { base, pattern, fire(kind, uri) } (kind: create, change, delete). */
  watchers: [],
  configuration: { "stageplan.runnerPath": "runner", "stageplan.platform": "" },
};
const events = {
  activeEditor: new EventEmitter(),
  selection: new EventEmitter(),
  open: new EventEmitter(),
  change: new EventEmitter(),
  close: new EventEmitter(),
  configuration: new EventEmitter(),
};

class TextDocument {
  constructor(uri, text, languageId) {
    Object.assign(this, { uri, languageId, version: 1, isDirty: false, isUntitled: false, isClosed: false, _text: text });
  }
  get fileName() { return this.uri.fsPath; }
  get lineCount() { return this._text.split(/\r?\n/).length; }
  getText() { return this._text; }
  async save() { this.isDirty = false; return true; }
}

class TextEditor {
  constructor(document, viewColumn) {
    this.document = document;
    this.viewColumn = viewColumn;
    this.revealed = [];
    this._selection = new Selection(new Position(0, 0), new Position(0, 0));
  }
  get selection() { return this._selection; }
  set selection(value) {
    this._selection = value;
    events.selection.fire({ textEditor: this, selections: [value], kind: 2 });
  }
  get selections() { return [this._selection]; }
  revealRange(range, revealType) { this.revealed.push({ range, revealType }); }
}

const state = { documents: [], editors: [], activeEditor: undefined };

function createWebviewPanel(viewType, title, showOptions, options) {
  const received = new EventEmitter();
  const disposed = new EventEmitter();
  const panel = {
    viewType,
    title,
    showOptions,
    options,
    posted: [],
    revealed: [],
    disposed: false,
    webview: {
      html: "",
      options: options ?? {},
      cspSource: "https://stub.vscode-cdn.net",
      asWebviewUri: (uri) => Uri.parse(`https://file+.vscode-resource.vscode-cdn.net${uri.path}`),
      postMessage: async (message) => {
        panel.posted.push(JSON.parse(JSON.stringify(message)));
        return true;
      },
      onDidReceiveMessage: received.event,
    },
    onDidDispose: disposed.event,
    reveal(viewColumn, preserveFocus) { panel.revealed.push({ viewColumn, preserveFocus }); },
    dispose() { panel.disposed = true; disposed.fire(); },
    /** Test helper: a message from the webview script. */
    receive(message) { received.fire(message); },
  };
  recorded.panels.push(panel);
  return panel;
}

function registerProvider(kind) {
  return (selector, provider) => {
    recorded.providers.push({ kind, selector, provider });
    return new Disposable(() => {});
  };
}

const vscode = {
  Disposable, EventEmitter, Uri, Position, Range, Selection, Diagnostic, DiagnosticSeverity, SymbolKind,
  DocumentSymbol, CodeLens, ViewColumn, TextEditorRevealType, RelativePattern,
  languages: {
    createDiagnosticCollection(name) {
      const entries = new Map();
      const collection = {
        name,
        set: (uri, diagnostics) => entries.set(uri.toString(), diagnostics),
        delete: (uri) => entries.delete(uri.toString()),
        get: (uri) => entries.get(uri.toString()),
        clear: () => entries.clear(),
        dispose: () => entries.clear(),
      };
      recorded.diagnosticCollections.push(collection);
      return collection;
    },
    registerDocumentSymbolProvider: registerProvider("documentSymbol"),
    registerDefinitionProvider: registerProvider("definition"),
    registerCodeLensProvider: registerProvider("codeLens"),
  },
  commands: {
    registerCommand(id, handler) {
      if (recorded.commands.has(id)) throw new Error(`command '${id}' already exists`);
      recorded.commands.set(id, handler);
      return new Disposable(() => recorded.commands.delete(id));
    },
    async executeCommand(id, ...args) {
      const handler = recorded.commands.get(id);
      if (!handler && id.startsWith("workbench.")) {
        recorded.builtinCommands.push([id, ...args]);
        return undefined;
      }
      if (!handler) throw new Error(`command '${id}' not found`);
      return handler(...args);
    },
  },
  window: {
    get activeTextEditor() { return state.activeEditor; },
    get visibleTextEditors() { return [...state.editors]; },
    onDidChangeActiveTextEditor: events.activeEditor.event,
    onDidChangeTextEditorSelection: events.selection.event,
    createWebviewPanel,
    registerWebviewPanelSerializer(viewType, serializer) {
      if (recorded.serializers.has(viewType)) throw new Error(`a serializer for '${viewType}' is already registered`);
      recorded.serializers.set(viewType, serializer);
      return new Disposable(() => recorded.serializers.delete(viewType));
    },
    async showTextDocument(document, options = {}) {
      recorded.shownDocuments.push({ uri: document.uri.toString(), options });
      let editor = state.editors.find((candidate) => candidate.document === document);
      if (!editor) {
        editor = new TextEditor(document, typeof options.viewColumn === "number" && options.viewColumn > 0 ? options.viewColumn : 1);
        state.editors.push(editor);
      }
      if (!options.preserveFocus) {
        state.activeEditor = editor;
        events.activeEditor.fire(editor);
      }
      return editor;
    },
    createTerminal(options) {
      const terminal = { name: options.name, cwd: options.cwd, sent: [], shown: false, show() { this.shown = true; }, sendText(text) { this.sent.push(text); }, dispose() {} };
      recorded.terminals.push(terminal);
      return terminal;
    },
    async showInformationMessage(message) { recorded.infoMessages.push(message); return undefined; },
    async showErrorMessage(message, ...items) {
      recorded.errorMessages.push(message);
      const choice = recorded.errorMessageChoice;
      recorded.errorMessageChoice = undefined;
      return items.includes(choice) ? choice : undefined;
    },
    async showSaveDialog(options) { recorded.saveDialogs.push(options); return recorded.saveAnswer; },
  },
  workspace: {
    get textDocuments() { return [...state.documents]; },
    onDidOpenTextDocument: events.open.event,
    onDidChangeTextDocument: events.change.event,
    onDidCloseTextDocument: events.close.event,
    onDidChangeConfiguration: events.configuration.event,
    async openTextDocument(uri) {
      const found = state.documents.find((document) => document.uri.toString() === uri.toString());
      if (!found) throw new Error(`cannot open ${uri.toString()}: the stand-in only knows documents opened with __test.openDocument`);
      return found;
    },
    getWorkspaceFolder(uri) {
      const folder = recorded.workspaceFolders.find((candidate) => uri.fsPath.startsWith(candidate + "/"));
      return folder ? { uri: Uri.file(folder), name: path.basename(folder), index: recorded.workspaceFolders.indexOf(folder) } : undefined;
    },
    getConfiguration(section) {
      return {
        get: (key, fallback) => recorded.configuration[`${section}.${key}`] ?? fallback,
      };
    },
    createFileSystemWatcher(pattern) {
      // VS Code's GlobPattern: a RelativePattern or a glob string over the whole workspace.
      const relative = pattern instanceof RelativePattern;
      if (!relative && typeof pattern !== "string") throw new Error("createFileSystemWatcher takes a RelativePattern or a glob string");
      const emitters = { create: new EventEmitter(), change: new EventEmitter(), delete: new EventEmitter() };
      const watcher = {
        base: relative ? pattern.base : undefined,
        pattern: relative ? pattern.pattern : pattern,
        onDidCreate: emitters.create.event,
        onDidChange: emitters.change.event,
        onDidDelete: emitters.delete.event,
        disposed: false,
        dispose() { this.disposed = true; },
        fire(kind, uri) { if (!this.disposed) emitters[kind].fire(uri); },
      };
      recorded.watchers.push(watcher);
      return watcher;
    },
    fs: {
      async readFile(uri) { return require("node:fs").readFileSync(uri.fsPath); },
      async createDirectory(uri) { require("node:fs").mkdirSync(uri.fsPath, { recursive: true }); },
      async writeFile(uri, bytes) { recorded.written.push({ path: uri.path, bytes: Buffer.from(bytes) }); },
    },
  },
  env: {
    clipboard: {
      async writeText(text) { recorded.clipboard = text; },
      async readText() { return recorded.clipboard; },
    },
  },
};

/** Test helpers: drive the editor the way a user would. */
vscode.__test = {
  recorded,
  /** Opens a document (fires onDidOpenTextDocument) and, unless `background`, shows it in an active editor. */
  openDocument(fsPath, text, { languageId = "dockerfile", background = false } = {}) {
    const document = new TextDocument(Uri.file(fsPath), text, languageId);
    state.documents.push(document);
    events.open.fire(document);
    if (!background) {
      const editor = new TextEditor(document, 1);
      state.editors = [editor, ...state.editors.filter((candidate) => candidate.document !== document)];
      state.activeEditor = editor;
      events.activeEditor.fire(editor);
    }
    return document;
  },
  /** Replaces a document's text (fires onDidChangeTextDocument). */
  editDocument(document, text) {
    document._text = text;
    document.version += 1;
    document.isDirty = true;
    events.change.fire({ document, contentChanges: [{ text }], reason: undefined });
  },
  /** Closes a document (its editors go; fires onDidCloseTextDocument). */
  closeDocument(document) {
    document.isClosed = true;
    state.documents = state.documents.filter((candidate) => candidate !== document);
    state.editors = state.editors.filter((candidate) => candidate.document !== document);
    if (state.activeEditor?.document === document) {
      state.activeEditor = state.editors[0];
      events.activeEditor.fire(state.activeEditor);
    }
    events.close.fire(document);
  },
  /** Makes the editor of `document` the active one. */
  activate(document) {
    const editor = state.editors.find((candidate) => candidate.document === document);
    if (!editor) throw new Error("no editor shows that document");
    state.activeEditor = editor;
    events.activeEditor.fire(editor);
    return editor;
  },
  /** Moves the cursor of `document`'s editor (fires onDidChangeTextEditorSelection). */
  moveCursor(document, line, character = 0) {
    const editor = state.editors.find((candidate) => candidate.document === document);
    if (!editor) throw new Error("no editor shows that document");
    editor.selection = new Selection(new Position(line, character), new Position(line, character));
    return editor;
  },
  /** A panel as VS Code restores it after a reload (to hand to a registered serializer). */
  restoredPanel(viewType, title) {
    return createWebviewPanel(viewType, title, { viewColumn: 2 }, undefined);
  },
  /** A minimal ExtensionContext; `globalStoragePath` is the extension's global storage folder. */
  context(extensionPath, globalStoragePath) {
    const context = { subscriptions: [], extensionUri: Uri.file(extensionPath), extensionPath };
    if (globalStoragePath) context.globalStorageUri = Uri.file(globalStoragePath);
    return context;
  },
  /** A file was written (or removed): the watchers whose folder holds it and whose `*.suffix` pattern matches it fire. */
  fileChanged(fsPath, kind = "change") {
    const dir = path.posix.dirname(fsPath);
    for (const watcher of recorded.watchers) {
      const suffix = watcher.pattern.startsWith("*") ? watcher.pattern.slice(1) : null;
      if (watcher.base === dir && (suffix === null ? path.posix.basename(fsPath) === watcher.pattern : fsPath.endsWith(suffix))) {
        watcher.fire(kind, Uri.file(fsPath));
      }
    }
  },
};

module.exports = vscode;
