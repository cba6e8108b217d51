// The preview's HTML page with its Content-Security-Policy.
//
// Input: the webview's CSP source, a fresh nonce and the URIs of the script and stylesheet.
// Output: the page text set as `webview.html`.
// Invariant: scripts and inline styles run only with the nonce (no inline handlers, no
// 'unsafe-inline', no 'unsafe-eval'); nothing is loaded from outside the extension. The shared graph
// component's own <style> inside the SVG gets the same nonce (StageGraphOptions.styleNonce).

/** What the page needs. */
export interface PreviewPage {
  /** `webview.cspSource`. */
  cspSource: string;
  /** A fresh random nonce for the script tag (and the graph's <style>). */
  nonce: string;
  scriptUri: string;
  styleUri: string;
}

/** A 32-character nonce of letters and digits from the platform's cryptographic random source. */
export function makeNonce(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(32));
  let nonce = "";
  for (const byte of bytes) nonce += alphabet[byte % alphabet.length];
  return nonce;
}

/** The Content-Security-Policy of the preview. */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join("; ");
}

function escapeAttribute(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
}

/** The page: a toolbar (targets, build args), the diagnostics list and the graph host. */
export function previewHtml(page: PreviewPage): string {
  const csp = escapeAttribute(contentSecurityPolicy(page.cspSource, page.nonce));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttribute(page.styleUri)}">
<title>Stage Preview</title>
</head>
<body>
<header class="toolbar">
  <div class="file" data-testid="file-name"></div>
  <label class="field">Targets
    <select multiple size="3" data-testid="target-select" aria-label="targets (none = the last stage)"></select>
  </label>
  <label class="field">Build args
    <textarea rows="3" spellcheck="false" data-testid="build-args" placeholder="KEY=VALUE per line"></textarea>
  </label>
</header>
<div class="summary" data-testid="summary" role="status"></div>
<div class="record" data-testid="record-summary" hidden></div>
<ul class="diagnostics" data-testid="diagnostics"></ul>
<main class="graph" data-testid="graph"></main>
<script nonce="${escapeAttribute(page.nonce)}" src="${escapeAttribute(page.scriptUri)}"></script>
</body>
</html>
`;
}
