// WCAG contrast of the stage graph's node text against the node's fill, as a browser computed
// them: shared by the webview test (VS Code's theme variables replayed in Chromium) and the
// real-editor test (the preview inside code-server).
//
// Input: a Playwright Page or Frame showing the preview. Output: one entry per text of every graph
// node (a badge's text against the badge) and of every graph control (toolbar buttons, the find
// box's text and placeholder, the find status, the tooltip) with its contrast ratio, and the
// helpers that compute it.
// Invariant: colours are what getComputedStyle reports; a see-through fill is composited over what
// lies under it (the page background, and the drop-shadow a node under the cursor casts), and
// see-through text over the result; a control's text and background are composited through every
// ancestor's background and opacity; so the ratio is that of the pixels a user sees.

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
      // A faded node (another stage's lineage shown, a stale drawing) fades text and fill alike.
      let opacity = 1;
      for (let element = node; element; element = element.parentElement) opacity *= Number(getComputedStyle(element).opacity);
      return {
        opacity,
        name: node.getAttribute("data-stage-name") ?? node.querySelector("text")?.textContent ?? "?",
        classes: node.getAttribute("class"),
        fill: style.fill,
        filter: style.filter,
        texts: [...node.querySelectorAll("text")].map((text) => {
          // A text inside a badge sits on the badge's own box, not on the node's.
          const box = text.parentElement !== node ? text.parentElement.querySelector(":scope > rect") : null;
          return { text: text.textContent, fill: getComputedStyle(text).fill, on: box ? getComputedStyle(box).fill : null };
        }),
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
    // The node painted at its opacity over the page (nothing between them has a background).
    const faded = (colour) => over([colour[0], colour[1], colour[2], colour[3] * node.opacity], page);
    return node.texts.map((text) => {
      const box = text.on === null ? fillColour : over(parseColor(text.on), fillColour);
      const background = faded(box);
      const textColour = faded(over(parseColor(text.fill), box));
      return {
        node: node.name,
        classes: node.classes,
        text: text.text,
        ratio: contrastRatio(textColour, background),
        textColour: textColour.slice(0, 3).map(Math.round),
        fillColour: background.slice(0, 3).map(Math.round),
      };
    });
  });
}

/** The text and background layers of every graph control, innermost first (runs in the page). */
function readControlColours() {
  const layers = (element) => {
    const found = [];
    for (let node = element; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      found.push({ background: style.backgroundColor, opacity: Number(style.opacity) });
    }
    return found;
  };
  const controls = [];
  for (const element of document.querySelectorAll(".sp-toolbar button, .sp-toolbar input, .sp-find-status, .sp-tooltip")) {
    const name = element.dataset.testid ?? element.className;
    const own = [...element.childNodes].filter((child) => child.nodeType === Node.TEXT_NODE).map((child) => child.textContent).join("").trim();
    const text = element instanceof HTMLInputElement ? element.value : own;
    controls.push({ name, text, colour: getComputedStyle(element).color, layers: layers(element) });
    if (element instanceof HTMLInputElement && element.placeholder) {
      controls.push({ name: `${name} placeholder`, text: element.placeholder, colour: getComputedStyle(element, "::placeholder").color, layers: layers(element) });
    }
  }
  return controls;
}

/** The text and background pixels of a control: each layer painted, then faded by its opacity, outward. */
function composite(colour, layers) {
  let text = colour;
  let background = [0, 0, 0, 0];
  for (const layer of layers) {
    const fill = parseColor(layer.background);
    background = over(background, fill);
    text = over(text, fill);
    background = [...background.slice(0, 3), background[3] * layer.opacity];
    text = [...text.slice(0, 3), text[3] * layer.opacity];
  }
  // Whatever no layer covers is the browser's white canvas.
  const canvas = [255, 255, 255, 1];
  return { text: over(text, canvas), background: over(background, canvas) };
}

/**
 * The contrast of the text of every graph control in `frame` (toolbar buttons with the find
 * suggestion, the find box's text and placeholder, the find status, the edge tooltip, shown or not):
 * entries shaped like nodeTextContrasts's, `node` naming the control by its data-testid.
 */
export async function controlTextContrasts(frame) {
  const controls = await frame.evaluate(readControlColours);
  return controls.map((control) => {
    const { text, background } = composite(parseColor(control.colour), control.layers);
    return {
      node: control.name,
      classes: "control",
      text: control.text,
      ratio: contrastRatio(text, background),
      textColour: text.slice(0, 3).map(Math.round),
      fillColour: background.slice(0, 3).map(Math.round),
    };
  });
}

/** The entries below WCAG AA, described one per line (empty when every text passes). */
export function belowAA(contrasts) {
  return contrasts
    .filter((entry) => entry.ratio < WCAG_AA_TEXT)
    .map((entry) => `${entry.node} [${entry.classes}] "${entry.text}": ${entry.ratio.toFixed(2)}:1, text rgb(${entry.textColour}) on rgb(${entry.fillColour})`);
}
