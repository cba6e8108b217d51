// The graph's pan and zoom: wheel and pinch zoom around the pointer, drag to pan, keys
// (+ − 0 and the arrows), fit to the view, and centring on a box.
//
// Input: the canvas element (the visible area) and the drawing's <svg>; user gestures.
// Output: the scene's transform, the `sp-far` class on the <svg> when labels would be too small
// to read (they are hidden rather than drawn unreadable), and a callback after every change.
// Invariant: the transform maps drawing units to canvas pixels as `screen = point × scale +
// offset`; the scale stays between MIN_SCALE (or what it takes to see the whole drawing) and
// MAX_SCALE; `fitted` is true until the user moves the view, so a redraw refits only then.

/** The smallest and largest scale (screen pixels per drawing unit). */
const MIN_SCALE = 0.05;
const MAX_SCALE = 3;
/** Below this scale the 13 px labels would be under 7 px high: they are hidden. */
export const LABEL_SCALE = 0.54;
/** One arrow-key press pans this many pixels (four times that with Shift). */
const PAN_STEP = 60;
/** One +/− press or button click zooms by this factor. */
const ZOOM_STEP = 1.25;

/** Where the view is: the scale and the drawing point at the centre of the canvas. */
export interface ZoomState {
  scale: number;
  x: number;
  y: number;
}

export class Viewport {
  scale = 1;
  offsetX = 0;
  offsetY = 0;
  /** True while the view shows the whole drawing as fit() left it. */
  fitted = true;
  private width = 0;
  private height = 0;
  private drag: { pointerId: number; x: number; y: number; moved: boolean } | null = null;
  /** True right after a drag, so the click that ends it does not count as a click. */
  justDragged = false;
  private readonly listeners: [string, EventListener, AddEventListenerOptions?][] = [];

  constructor(
    private readonly canvas: HTMLElement,
    private svg: SVGSVGElement | null,
    private readonly onChange: () => void,
  ) {
    this.listen("wheel", (event) => this.onWheel(event as WheelEvent), { passive: false });
    this.listen("pointerdown", (event) => this.onPointerDown(event as PointerEvent));
    this.listen("pointermove", (event) => this.onPointerMove(event as PointerEvent));
    this.listen("pointerup", (event) => this.onPointerUp(event as PointerEvent));
    this.listen("pointercancel", (event) => this.onPointerUp(event as PointerEvent));
    this.listen("keydown", (event) => this.onKey(event as KeyboardEvent));
  }

  private listen(type: string, handler: EventListener, options?: AddEventListenerOptions): void {
    this.canvas.addEventListener(type, handler, options);
    this.listeners.push([type, handler, options]);
  }

  /** The size of the visible area in pixels, measured once and again only on resize (see
   * `measure`), so that drawing never forces the browser to lay out the page first. */
  private size: { width: number; height: number } | null = null;

  room(): { width: number; height: number } {
    if (!this.size) this.measure();
    return this.size!;
  }

  /** Measures the visible area again (after the canvas changed size). */
  measure(): void {
    this.size = { width: this.canvas.clientWidth, height: this.canvas.clientHeight };
  }

  /** The scale a drawing of `width` × `height` units will be shown at by `setContent`, so the
   * caller can hide its labels before it enters the page. */
  scaleFor(width: number, height: number): number {
    if (!this.fitted) return this.scale;
    const [oldWidth, oldHeight] = [this.width, this.height];
    [this.width, this.height] = [width, height];
    const scale = this.fitScale();
    [this.width, this.height] = [oldWidth, oldHeight];
    return scale;
  }

  /** A new drawing of `width` × `height` units in `svg`: refits when the view was fitted. */
  setContent(svg: SVGSVGElement, width: number, height: number): void {
    this.svg = svg;
    this.width = width;
    this.height = height;
    if (this.fitted) this.fit();
    else this.apply();
  }

  /** The scale that shows the whole drawing (at most 1: a small graph is not blown up). */
  fitScale(): number {
    const room = this.room();
    if (this.width === 0 || this.height === 0 || room.width === 0 || room.height === 0) return 1;
    return Math.min(1, room.width / this.width, room.height / this.height);
  }

  /** Shows the whole drawing, centred. */
  fit(): void {
    const room = this.room();
    this.scale = this.fitScale();
    this.offsetX = (room.width - this.width * this.scale) / 2;
    this.offsetY = (room.height - this.height * this.scale) / 2;
    this.fitted = true;
    this.apply();
  }

  private clampScale(scale: number): number {
    return Math.min(MAX_SCALE, Math.max(Math.min(MIN_SCALE, this.fitScale()), scale));
  }

  /** Zooms by `factor` keeping the canvas point (`px`, `py`) still (the centre by default). */
  zoomBy(factor: number, px?: number, py?: number): void {
    const room = this.room();
    const x = px ?? room.width / 2;
    const y = py ?? room.height / 2;
    const scale = this.clampScale(this.scale * factor);
    this.offsetX = x - ((x - this.offsetX) * scale) / this.scale;
    this.offsetY = y - ((y - this.offsetY) * scale) / this.scale;
    this.scale = scale;
    this.fitted = false;
    this.apply();
  }

  /** Moves the drawing by (`dx`, `dy`) pixels. */
  panBy(dx: number, dy: number): void {
    this.offsetX += dx;
    this.offsetY += dy;
    this.fitted = false;
    this.apply();
  }

  /** Puts the drawing point (`x`, `y`) at the centre, at `scale` (the current one by default). */
  centreOn(x: number, y: number, scale = this.scale): void {
    const room = this.room();
    this.scale = this.clampScale(scale);
    this.offsetX = room.width / 2 - x * this.scale;
    this.offsetY = room.height / 2 - y * this.scale;
    this.fitted = false;
    this.apply();
  }

  /** The view as the share link keeps it; null while fitted. */
  state(): ZoomState | null {
    if (this.fitted) return null;
    const room = this.room();
    const round = (n: number) => Math.round(n * 100) / 100;
    return { scale: round(this.scale), x: round((room.width / 2 - this.offsetX) / this.scale), y: round((room.height / 2 - this.offsetY) / this.scale) };
  }

  /** Restores a state (null fits). */
  restore(state: ZoomState | null): void {
    if (state === null) this.fit();
    else this.centreOn(state.x, state.y, state.scale);
  }

  /** Whether the whole drawing is inside the visible area. */
  showsAll(): boolean {
    const room = this.room();
    const eps = 1;
    return (
      this.offsetX >= -eps &&
      this.offsetY >= -eps &&
      this.offsetX + this.width * this.scale <= room.width + eps &&
      this.offsetY + this.height * this.scale <= room.height + eps
    );
  }

  /** The drawing point under the canvas point (`px`, `py`). */
  toDrawing(px: number, py: number): { x: number; y: number } {
    return { x: (px - this.offsetX) / this.scale, y: (py - this.offsetY) / this.scale };
  }

  /** The visible part of the drawing, in drawing units. */
  visibleRect(): { x: number; y: number; width: number; height: number } {
    const room = this.room();
    return { x: -this.offsetX / this.scale, y: -this.offsetY / this.scale, width: room.width / this.scale, height: room.height / this.scale };
  }

  private apply(): void {
    const scene = this.svg?.querySelector<SVGGElement>(".sp-scene");
    scene?.setAttribute("transform", `translate(${this.offsetX.toFixed(2)},${this.offsetY.toFixed(2)}) scale(${this.scale.toFixed(4)})`);
    this.svg?.classList.toggle("sp-far", this.scale < LABEL_SCALE);
    this.svg?.setAttribute("data-scale", this.scale.toFixed(3));
    this.onChange();
  }

  private onWheel(event: WheelEvent): void {
    event.preventDefault();
    const rect = this.canvas.getBoundingClientRect();
    // Pinch gestures arrive as wheel events with ctrlKey and small deltas; lines are ~16 px.
    const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
    this.zoomBy(Math.exp(-delta * (event.ctrlKey ? 0.01 : 0.0015)), event.clientX - rect.left, event.clientY - rect.top);
  }

  private onPointerDown(event: PointerEvent): void {
    if (event.button !== 0) return;
    this.drag = { pointerId: event.pointerId, x: event.clientX, y: event.clientY, moved: false };
  }

  private onPointerMove(event: PointerEvent): void {
    const drag = this.drag;
    if (!drag || drag.pointerId !== event.pointerId) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    if (!drag.moved) {
      drag.moved = true;
      this.canvas.setPointerCapture?.(event.pointerId);
      this.canvas.classList.add("sp-dragging");
    }
    drag.x = event.clientX;
    drag.y = event.clientY;
    this.panBy(dx, dy);
  }

  private onPointerUp(event: PointerEvent): void {
    const drag = this.drag;
    if (!drag || drag.pointerId !== event.pointerId) return;
    this.drag = null;
    this.canvas.classList.remove("sp-dragging");
    if (drag.moved) {
      this.justDragged = true;
      setTimeout(() => (this.justDragged = false), 0);
    }
  }

  private onKey(event: KeyboardEvent): void {
    if (event.target instanceof HTMLInputElement || event.altKey || event.ctrlKey || event.metaKey) return;
    const step = event.shiftKey ? PAN_STEP * 4 : PAN_STEP;
    const actions: Record<string, () => void> = {
      "+": () => this.zoomBy(ZOOM_STEP),
      "=": () => this.zoomBy(ZOOM_STEP),
      "-": () => this.zoomBy(1 / ZOOM_STEP),
      _: () => this.zoomBy(1 / ZOOM_STEP),
      "0": () => this.fit(),
      ArrowLeft: () => this.panBy(step, 0),
      ArrowRight: () => this.panBy(-step, 0),
      ArrowUp: () => this.panBy(0, step),
      ArrowDown: () => this.panBy(0, -step),
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  }

  /** One zoom step in or out, for the toolbar buttons. */
  step(direction: 1 | -1): void {
    this.zoomBy(direction > 0 ? ZOOM_STEP : 1 / ZOOM_STEP);
  }

  destroy(): void {
    for (const [type, handler, options] of this.listeners) this.canvas.removeEventListener(type, handler, options);
  }
}
