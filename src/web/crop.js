// The square crop: the photo, turned in 90° steps, with a square over it that is moved
// (drag, arrow keys), zoomed (the range, + and −) and exported as a JPEG. Everything is
// drawn on canvases; the crop's state is also written to the canvas's data-crop attribute
// (x, y, side in the turned photo's pixels, and the turn), so that what is cut can be checked.

/** The largest side exported: Graph's largest standard size. */
const LARGEST = 648;
/** The smallest: no Graph size below 240 is missing because the crop was small. */
const SMALLEST = 240;
export const MAX_ZOOM = 4;

export class Crop {
  constructor(view, previews) {
    this.view = view;
    this.previews = previews;
    this.image = undefined;
    this.turn = 0;
    this.zoom = 1;
    this.cx = 0;
    this.cy = 0;
  }

  /** The turned photo's width and height. */
  get size() {
    const { width, height } = this.image;
    return this.turn % 180 === 0 ? [width, height] : [height, width];
  }

  get side() {
    const [w, h] = this.size;
    return Math.min(w, h) / this.zoom;
  }

  load(image) {
    this.image = image;
    this.turn = 0;
    this.zoom = 1;
    const [w, h] = this.size;
    this.cx = w / 2;
    this.cy = h / 2;
    this.draw();
  }

  setZoom(zoom) {
    this.zoom = Math.min(MAX_ZOOM, Math.max(1, zoom));
    this.draw();
  }

  /** Moves the square by a fraction of its side. */
  move(dx, dy) {
    this.cx += dx * this.side;
    this.cy += dy * this.side;
    this.draw();
  }

  /** A quarter turn clockwise; the square stays over the same part of the photo. */
  rotate() {
    const [, h] = this.size;
    [this.cx, this.cy] = [h - this.cy, this.cx];
    this.turn = (this.turn + 90) % 360;
    this.draw();
  }

  clamp() {
    const [w, h] = this.size;
    const half = this.side / 2;
    this.cx = Math.min(w - half, Math.max(half, this.cx));
    this.cy = Math.min(h - half, Math.max(half, this.cy));
  }

  /** Draws the turned photo on `context` scaled by `scale`, its top left at (x, y). */
  paint(context, scale, x, y) {
    const { width, height } = this.image;
    const [w, h] = this.size;
    context.save();
    context.setTransform(scale, 0, 0, scale, x, y);
    context.translate(w / 2, h / 2);
    context.rotate((this.turn * Math.PI) / 180);
    context.drawImage(this.image, -width / 2, -height / 2);
    context.restore();
  }

  /** The square, drawn to fill `canvas`. */
  cutInto(canvas) {
    const context = canvas.getContext('2d');
    const scale = canvas.width / this.side;
    context.imageSmoothingQuality = 'high';
    context.fillStyle = '#fff';
    context.fillRect(0, 0, canvas.width, canvas.height);
    this.paint(context, scale, -(this.cx - this.side / 2) * scale, -(this.cy - this.side / 2) * scale);
  }

  draw() {
    if (this.image === undefined) return;
    this.clamp();
    const { view } = this;
    const context = view.getContext('2d');
    const [w, h] = this.size;
    const scale = Math.min(view.width / w, view.height / h);
    const x = (view.width - w * scale) / 2;
    const y = (view.height - h * scale) / 2;
    context.clearRect(0, 0, view.width, view.height);
    this.paint(context, scale, x, y);
    // Dim what is cut away; outline the square.
    const side = this.side * scale;
    const left = x + (this.cx - this.side / 2) * scale;
    const top = y + (this.cy - this.side / 2) * scale;
    context.save();
    context.fillStyle = 'rgba(0, 0, 0, 0.55)';
    context.beginPath();
    context.rect(0, 0, view.width, view.height);
    context.rect(left, top, side, side);
    context.fill('evenodd');
    context.strokeStyle = '#fff';
    context.lineWidth = 2;
    context.strokeRect(left, top, side, side);
    context.restore();
    this.viewBox = { x, y, scale };
    for (const preview of this.previews) this.cutInto(preview);
    view.dataset.crop = [this.cx - this.side / 2, this.cy - this.side / 2, this.side, this.turn].map((n) => Math.round(n * 100) / 100).join(',');
  }

  /** Arrow keys move, + and − zoom, R turns; true when the key was one of them. */
  key(event) {
    const step = event.shiftKey ? 0.01 : 0.05;
    switch (event.key) {
      case 'ArrowLeft': this.move(-step, 0); return true;
      case 'ArrowRight': this.move(step, 0); return true;
      case 'ArrowUp': this.move(0, -step); return true;
      case 'ArrowDown': this.move(0, step); return true;
      case '+': case '=': this.setZoom(this.zoom + 0.25); return true;
      case '-': case '−': this.setZoom(this.zoom - 0.25); return true;
      case 'r': case 'R': this.rotate(); return true;
      default: return false;
    }
  }

  /** Dragging with a pointer moves the square. */
  drag(dxView, dyView) {
    const scale = this.viewBox?.scale ?? 1;
    this.cx += dxView / scale;
    this.cy += dyView / scale;
    this.draw();
  }

  /** The square as a JPEG. */
  export() {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = Math.max(SMALLEST, Math.min(LARGEST, Math.round(this.side)));
    this.cutInto(canvas);
    return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('toBlob'))), 'image/jpeg', 0.92));
  }
}
