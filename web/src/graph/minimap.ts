// The minimap: the whole graph in miniature in a corner, with the visible part outlined; a click
// or drag on it moves the view there. Shown only while the graph is larger than the view.
//
// Input: the minimap element, the layout, the viewport. Output: a small <svg> of box outlines and
// the view rectangle, kept in step with the viewport.
// Invariant: draws boxes only (no text, no edges), so it stays cheap for 100 stages.
import type { GraphLayout } from "./layout";
import type { Viewport } from "./viewport";

const SVG_NS = "http://www.w3.org/2000/svg";

export class Minimap {
  private svg: SVGSVGElement;
  private view: SVGRectElement;
  private layout: GraphLayout | null = null;
  private dragging = false;

  constructor(
    private readonly element: HTMLDivElement,
    private readonly viewport: Viewport,
  ) {
    const doc = element.ownerDocument;
    this.svg = doc.createElementNS(SVG_NS, "svg");
    this.view = doc.createElementNS(SVG_NS, "rect");
    this.view.setAttribute("class", "sp-mini-view");
    element.append(this.svg);
    element.addEventListener("pointerdown", (event) => {
      event.stopPropagation();
      this.dragging = true;
      element.setPointerCapture?.(event.pointerId);
      this.moveTo(event);
    });
    element.addEventListener("pointermove", (event) => {
      if (this.dragging) this.moveTo(event);
    });
    const stop = () => (this.dragging = false);
    element.addEventListener("pointerup", stop);
    element.addEventListener("pointercancel", stop);
  }

  /** Redraws the miniature for a new layout. */
  setLayout(layout: GraphLayout): void {
    this.layout = layout;
    this.svg.setAttribute("viewBox", `0 0 ${Math.max(layout.width, 1)} ${Math.max(layout.height, 1)}`);
    this.svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    const doc = this.svg.ownerDocument;
    const rects = layout.nodes.map((node) => {
      const rect = doc.createElementNS(SVG_NS, "rect");
      rect.setAttribute("x", String(node.x));
      rect.setAttribute("y", String(node.y));
      rect.setAttribute("width", String(node.width));
      rect.setAttribute("height", String(node.height));
      rect.setAttribute("class", `sp-mini-node${node.needed ? " sp-needed" : ""}`);
      return rect;
    });
    this.svg.replaceChildren(...rects, this.view);
    this.update();
  }

  /** Follows the viewport: hidden when the whole graph is in view, else the view outlined. */
  update(): void {
    const hidden = !this.layout || this.layout.nodes.length === 0 || this.viewport.showsAll();
    this.element.hidden = hidden;
    if (hidden) return;
    const rect = this.viewport.visibleRect();
    this.view.setAttribute("x", rect.x.toFixed(1));
    this.view.setAttribute("y", rect.y.toFixed(1));
    this.view.setAttribute("width", rect.width.toFixed(1));
    this.view.setAttribute("height", rect.height.toFixed(1));
  }

  /** Centres the view on the drawing point under the pointer. */
  private moveTo(event: PointerEvent): void {
    const layout = this.layout;
    if (!layout) return;
    const box = this.element.getBoundingClientRect();
    // preserveAspectRatio "meet": the drawing is scaled by the smaller ratio and centred.
    const scale = Math.min(box.width / layout.width, box.height / layout.height);
    const left = box.left + (box.width - layout.width * scale) / 2;
    const top = box.top + (box.height - layout.height * scale) / 2;
    this.viewport.centreOn((event.clientX - left) / scale, (event.clientY - top) / scale);
  }
}
