// WCAG contrast of the stage graph's node text against the node's fill, as a browser computed
// them: shared by the webview test (VS Code's theme variables replayed in Chromium) and the
// real-editor test (the preview inside code-server).
//
// Input: a Playwright Page or Frame showing the preview. Output: one entry per text of every graph
// node with its contrast ratio, and the helpers that compute it.
// Invariant: colours are what getComputedStyle reports; a see-through fill is composited over what
// lies under it (the page background, and the drop-shadow a node under the cursor casts), and
// see-through text over the result, so the ratio is that of the pixels a user sees.

/** WCAG 2's minimum contrast ratio for normal-size text (success criterion 1.4.3). */
export const WCAG_AA_TEXT = 4.5;

/** Parses a computed colour (`rgb()`, `rgba()`, `#rgb`, `#rrggbb`, `transparent`, `none`) to [r, g, b, a]. */
export function parseColor(text) {
  const value = text.trim().toLowerCase();
  if (value === "none" || value === "transparent" || value === "") return [0, 0, 0, 0];
  const rgb = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:[\s,/]+([\d.]+%?))?\s*\)$/.exec(value);
  if (rgb) {
    const alpha = rgb[4] === undefined ? 1 : rgb[4].endsWith("%") ? Number(rgb[4].slice(0, -1)) / 100 : Number(rgb[4]);
    return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3]), alpha];
  }
  const hex = /^#([0-9a-f]{3,8})$/.exec(value);
  if (hex) {
    const digits = hex[1].length <= 4 ? [...hex[1]].map((digit) => digit + digit) : hex[1].match(/../g);
    const [r, g, b, a = "ff"] = digits;
    return [parseInt(r, 16), parseInt(g, 16), parseInt(b, 16), parseInt(a, 16) / 255];
  }
  throw new Error(`not a colour: ${text}`);
}

/** `top` painted over `bottom` (source-over compositing); the result is opaque when `bottom` is. */
export function over(top, bottom) {
  const alpha = top[3] + bottom[3] * (1 - top[3]);
  if (alpha === 0) return [0, 0, 0, 0];
  const channel = (i) => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / alpha;
  return [channel(0), channel(1), channel(2), alpha];
}

/** WCAG 2 relative luminance of an opaque colour. */
export function luminance([r, g, b]) {
  const linear = (channel) => {
    const c = channel / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

/** WCAG 2 contrast ratio of two opaque colours (1 to 21). */
export function contrastRatio(first, second) {
  const [light, dark] = [luminance(first), luminance(second)].sort((a, b) => b - a);
  return (light + 0.05) / (dark + 0.05);
}

/** The colours of every graph node as the browser computed them (runs in the page). */
function readNodeColours() {
  const background = getComputedStyle(document.body).backgroundColor;
  return {
    background,
    nodes: [...document.querySelectorAll(".sp-node")].map((node) => {
      const rect = node.querySelector("rect");
      const style = getComputedStyle(rect);
      return {
        name: node.getAttribute("data-stage-name") ?? node.querySelector("text")?.textContent ?? "?",
        classes: node.getAttribute("class"),
        fill: style.fill,
        filter: style.filter,
        texts: [...node.querySelectorAll("text")].map((text) => ({ text: text.textContent, fill: getComputedStyle(text).fill })),
      };
    }),
  };
}

/** The drop-shadow colours of a computed `filter` value. */
function shadowColours(filter) {
  return [...filter.matchAll(/drop-shadow\((rgba?\([^)]*\)|#[0-9a-f]+)/gi)].map((match) => parseColor(match[1]));
}

/**
 * The contrast of every text of every node in `frame` (a Playwright Page or Frame): a list of
 * `{ node, classes, text, ratio, textColour, fillColour }` with opaque colours as [r, g, b].
 */
export async function nodeTextContrasts(frame) {
  const sample = await frame.evaluate(readNodeColours);
  const page = parseColor(sample.background);
  return sample.nodes.flatMap((node) => {
    const fill = parseColor(node.fill);
    // A see-through fill shows what is under it: the page, and the node's own drop-shadow.
    let under = page;
    for (const shadow of shadowColours(node.filter)) under = over([shadow[0], shadow[1], shadow[2], shadow[3] * fill[3]], under);
    const fillColour = over(fill, under);
    return node.texts.map((text) => {
      const textColour = over(parseColor(text.fill), fillColour);
      return {
        node: node.name,
        classes: node.classes,
        text: text.text,
        ratio: contrastRatio(textColour, fillColour),
        textColour: textColour.slice(0, 3).map(Math.round),
        fillColour: fillColour.slice(0, 3).map(Math.round),
      };
    });
  });
}

/** The entries below WCAG AA, described one per line (empty when every text passes). */
export function belowAA(contrasts) {
  return contrasts
    .filter((entry) => entry.ratio < WCAG_AA_TEXT)
    .map((entry) => `${entry.node} [${entry.classes}] "${entry.text}": ${entry.ratio.toFixed(2)}:1, text rgb(${entry.textColour}) on rgb(${entry.fillColour})`);
}
