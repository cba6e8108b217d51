// Exports of the graph as shown: a standalone SVG document and a PNG picture of it.
//
// Input: the live <svg> (with its focus, folding, images, lineage and search marks) and the
// layout's size. Output: SVG text, and a PNG Blob drawn from that text.
// Invariant: the export shows the same boxes, edges and marks as the screen, whole (not only the
// part in view) and with labels at every size; the colours in force on screen (the host's
// overrides, dark mode) are written into the file, so it looks the same anywhere.
import type { GraphLayout } from "./layout";

/** The colour properties the drawing uses (see GRAPH_CSS). */
const COLOUR_PROPERTIES = [
  "--sp-fg", "--sp-muted", "--sp-needed-fill", "--sp-needed-stroke", "--sp-skipped-fill", "--sp-skipped-stroke",
  "--sp-skipped-fg", "--sp-image-fill", "--sp-image-stroke", "--sp-target", "--sp-current", "--sp-edge",
  "--sp-onbuild", "--sp-found", "--sp-lineage",
];

/** The drawing as a standalone SVG document. */
export function svgDocument(svg: SVGSVGElement, layout: GraphLayout): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  const width = Math.max(layout.width, 1);
  const height = Math.max(layout.height, 1);
  copy.setAttribute("viewBox", `0 0 ${width} ${height}`);
  copy.setAttribute("width", String(width));
  copy.setAttribute("height", String(height));
  copy.classList.remove("sp-far");
  copy.removeAttribute("data-scale");
  copy.querySelector(".sp-scene")?.removeAttribute("transform");
  copy.querySelectorAll(".sp-current").forEach((node) => node.classList.remove("sp-current"));
  copy.querySelectorAll(".sp-hover").forEach((node) => node.classList.remove("sp-hover"));
  const view = svg.ownerDocument.defaultView;
  if (view) {
    const computed = view.getComputedStyle(svg);
    const colours = COLOUR_PROPERTIES.map((name) => [name, computed.getPropertyValue(name).trim()] as const).filter(([, value]) => value !== "");
    // A rule in the drawing's own stylesheet, more specific than `.sp-graph` and its dark-mode
    // variant; not a style attribute, which a strict page policy (style-src-attr) refuses.
    const style = copy.querySelector("style");
    if (style) style.textContent += `\nsvg.sp-graph { ${colours.map(([name, value]) => `${name}: ${value};`).join(" ")} }\n`;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
}

/** The first opaque background colour at or above `element` (white when there is none). */
export function backgroundOf(element: Element): string {
  const view = element.ownerDocument.defaultView;
  for (let node: Element | null = element; node && view; node = node.parentElement) {
    const colour = view.getComputedStyle(node).backgroundColor;
    if (colour && colour !== "transparent" && !/rgba\(.*,\s*0\)$/.test(colour)) return colour;
  }
  return "#ffffff";
}

/** The largest canvas side browsers draw reliably. */
const MAX_SIDE = 8192;

/** The SVG text drawn into a PNG at `pixelRatio` (reduced for very large drawings). */
export async function pngBlob(svgText: string, width: number, height: number, background: string, pixelRatio = 2): Promise<Blob> {
  const ratio = Math.min(pixelRatio, MAX_SIDE / Math.max(width, height, 1));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * ratio));
  canvas.height = Math.max(1, Math.round(height * ratio));
  const context = canvas.getContext("2d");
  if (!context) throw new Error("the browser gave no 2D canvas for the PNG export");
  const image = new Image();
  // A data: URL, which strict page policies (the VS Code preview's img-src) allow.
  image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svgText)}`;
  await image.decode();
  context.fillStyle = background;
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the browser could not encode the PNG"))), "image/png"),
  );
}
