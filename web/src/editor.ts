// The Dockerfile editor: CodeMirror 6 with Dockerfile highlighting, planner diagnostics as gutter
// markers and squiggles (message on hover), and helpers to jump to a line.
//
// Input: the host element, the initial text and callbacks for text and cursor changes.
// Output: an EditorView; `showDiagnostics` maps planner diagnostics (1-based lines, UTF-16
// columns) onto document offsets.
// Invariant: positions are clamped to the document, so a diagnostic from an older text never
// throws; colours come from CSS custom properties (light and dark).
import { basicSetup } from "codemirror";
import { HighlightStyle, StreamLanguage, syntaxHighlighting } from "@codemirror/language";
import { dockerFile } from "@codemirror/legacy-modes/mode/dockerfile";
import { lintGutter, setDiagnostics } from "@codemirror/lint";
import type { Diagnostic as EditorDiagnostic } from "@codemirror/lint";
import { EditorSelection, EditorState } from "@codemirror/state";
import type { Text } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { tags } from "@lezer/highlight";

import type { Diagnostic } from "./types/planner-types";

const highlight = HighlightStyle.define([
  { tag: tags.keyword, color: "var(--code-keyword)", fontWeight: "600" },
  { tag: tags.string, color: "var(--code-string)" },
  { tag: tags.comment, color: "var(--code-comment)", fontStyle: "italic" },
  { tag: tags.number, color: "var(--code-number)" },
  { tag: [tags.variableName, tags.special(tags.variableName)], color: "var(--code-variable)" },
  { tag: tags.invalid, color: "var(--code-invalid)" },
]);

const theme = EditorView.theme({
  "&": { height: "100%", fontSize: "13px", backgroundColor: "var(--editor-bg)", color: "var(--fg)" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.55" },
  ".cm-content": { caretColor: "var(--fg)" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--fg)" },
  ".cm-gutters": { backgroundColor: "var(--editor-gutter)", color: "var(--muted)", borderRight: "1px solid var(--border)" },
  ".cm-activeLine": { backgroundColor: "var(--editor-active-line)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--editor-active-line)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: "var(--editor-selection) !important" },
  ".cm-tooltip": { backgroundColor: "var(--panel)", color: "var(--fg)", border: "1px solid var(--border)" },
  ".cm-panels": { backgroundColor: "var(--panel)", color: "var(--fg)" },
});

export interface EditorCallbacks {
  /** The text changed (called on every change; the host debounces). */
  onText(text: string): void;
  /** The main cursor moved to 1-based `line`. */
  onCursorLine(line: number): void;
}

/** Creates the editor in `host`. */
export function createEditor(host: HTMLElement, text: string, callbacks: EditorCallbacks): EditorView {
  let lastLine = 0;
  const listener = EditorView.updateListener.of((update) => {
    if (update.docChanged) callbacks.onText(update.state.doc.toString());
    if (update.docChanged || update.selectionSet) {
      const line = update.state.doc.lineAt(update.state.selection.main.head).number;
      if (line !== lastLine || update.docChanged) {
        lastLine = line;
        callbacks.onCursorLine(line);
      }
    }
  });
  return new EditorView({
    parent: host,
    state: EditorState.create({
      doc: text,
      extensions: [
        basicSetup,
        StreamLanguage.define(dockerFile),
        syntaxHighlighting(highlight),
        lintGutter(),
        theme,
        EditorView.lineWrapping,
        listener,
        EditorView.contentAttributes.of({ "aria-label": "Dockerfile editor" }),
      ],
    }),
  });
}

/** The document offset of a 1-based line and 1-based UTF-16 column, clamped to the text. */
export function offsetOf(doc: Text, line: number, columnUtf16: number): number {
  const lineInfo = doc.line(Math.min(Math.max(line, 1), doc.lines));
  return lineInfo.from + Math.min(Math.max(columnUtf16 - 1, 0), lineInfo.length);
}

/** Converts planner diagnostics into CodeMirror lint diagnostics (option diagnostics, at line 0, are left out). */
export function toEditorDiagnostics(doc: Text, diagnostics: Diagnostic[]): EditorDiagnostic[] {
  return diagnostics
    .filter((diagnostic) => diagnostic.line > 0)
    .map((diagnostic) => {
      let from = offsetOf(doc, diagnostic.line, diagnostic.column_utf16);
      let to = offsetOf(doc, diagnostic.end_line, diagnostic.end_column_utf16);
      if (to <= from) {
        // An empty range: underline the rest of the line so the squiggle is visible.
        const line = doc.lineAt(from);
        if (from === line.to && from > line.from) from = line.from;
        to = Math.max(line.to, from);
      }
      return {
        from,
        to,
        severity: diagnostic.severity === "error" ? "error" : diagnostic.severity === "warning" ? "warning" : "info",
        source: diagnostic.code,
        message: diagnostic.message,
      } satisfies EditorDiagnostic;
    });
}

/** Shows planner diagnostics in the gutter and as squiggles. */
export function showDiagnostics(view: EditorView, diagnostics: Diagnostic[]): void {
  view.dispatch(setDiagnostics(view.state, toEditorDiagnostics(view.state.doc, diagnostics)));
}

/** Moves the cursor to the start of 1-based `line`, selects the line, scrolls it into view and focuses the editor. */
export function goToLine(view: EditorView, line: number, column = 1): void {
  const doc = view.state.doc;
  const lineInfo = doc.line(Math.min(Math.max(line, 1), doc.lines));
  const from = offsetOf(doc, lineInfo.number, column);
  view.dispatch({
    selection: EditorSelection.range(lineInfo.to, from),
    effects: EditorView.scrollIntoView(from, { y: "center" }),
  });
  view.focus();
}

/** Replaces the whole text (keeps undo history). */
export function setText(view: EditorView, text: string): void {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text }, selection: EditorSelection.cursor(0) });
}
