// Canvas viewer: window/level on the ORIGINAL stored values (not on an 8-bit PNG), zoom, pan, invert,
// fit/reset and the pixel value under the cursor. Value -> grey mapping: pixels.js; mouse: pointer.js.
//
// Speed: the frame's stored values are turned into RGBA through a lookup table indexed by stored value
// (at most 65,536 entries, rebuilt per window change in well under a millisecond), so a window drag costs
// one table read per pixel plus one putImageData; redraws are coalesced to one per animation frame.
// First paint: a server-rendered PNG (small, default window) is drawn while the raw values download.

import { api } from "./api.js";
import { buildLut, fullRangeWindow, histogramPercentiles, paintFloat, parseRawFrame, presetWindow } from "./pixels.js";
import { bindPointer } from "./pointer.js";

const PREVIEW_AFTER_MS = 250;
// While the window is being dragged, frames shown smaller than half size are computed on every
// 2nd (3rd...) stored pixel; the full-resolution frame follows once the drag pauses.
const SETTLE_MS = 120;

export class Viewer {
  constructor(canvas, { onChange = () => {}, onPixel = () => {} } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.onChange = onChange;
    this.onPixel = onPixel;
    this.image = null; // {cols, rows, pixels, min, max, slope, intercept, photometric, dtype}
    this.preview = null; // ImageBitmap of the PNG shown until raw values arrive
    this.buffer = document.createElement("canvas"); // full-resolution rendered frame
    this.bufferCtx = this.buffer.getContext("2d", { alpha: false });
    this.imageData = null;
    this.lut = null;
    this.window = { center: 0, width: 1 };
    this.defaultWindow = null;
    this.inverted = false;
    this.scale = 1;
    this.tx = 0;
    this.ty = 0;
    this.dirtyPixels = true;
    this.interactive = false;
    this.paintedStep = 1;
    this.frameRequested = false;
    this.percentiles = null;
    this.modality = "";
    this.stats = { renders: 0, renderMs: 0, firstImageMs: null, rawReadyMs: null, loadStartMs: null };
    bindPointer(this);
    new ResizeObserver(() => this._resize()).observe(canvas.parentElement);
    this._resize();
  }

  // -- loading -----------------------------------------------------------------------------------

  async load(instance, modality = "") {
    // Another image of the study may be opened before this one arrives: only the latest load paints.
    const ticket = (this.loadTicket = (this.loadTicket || 0) + 1);
    const current = () => ticket === this.loadTicket;
    this.sop = instance.sop_instance_uid;
    this.modality = (modality || "").toUpperCase();
    this.stats.loadStartMs = performance.now();
    this.stats.firstImageMs = null;
    this.stats.rawReadyMs = null;
    this.image = null;
    this.preview = null;
    this.rawError = null;
    this.dims = { cols: instance.columns, rows: instance.rows };
    this.defaultWindow =
      instance.window_center != null && instance.window_width != null
        ? { center: Number(instance.window_center), width: Number(instance.window_width) }
        : null;
    this.fit(false);
    const sop = instance.sop_instance_uid;
    // Raw values first: stored frames stream faster than the server can render a PNG (no resize, no
    // zlib). A small PNG is asked for only when the raw frame is slow (a slow network, a big frame), so
    // that the two requests do not compete for the server's CPU in the common case.
    let rawArrived = false;
    const previewTimer = setTimeout(() => {
      if (rawArrived) return;
      api.framePng(sop, 0, { max_size: 512 })
        .then((blob) => createImageBitmap(blob))
        .then((bitmap) => {
          if (this.image || !current()) return; // the raw values won the race, or another image is open
          this.preview = bitmap;
          this._firstImage();
          this.requestRender();
        })
        .catch(() => {});
    }, PREVIEW_AFTER_MS);
    try {
      const raw = await api.frameRaw(sop, 0);
      const buffer = await raw.arrayBuffer();
      rawArrived = true;
      if (!current()) return;
      this._setRaw(raw.headers, buffer);
    } catch (error) {
      if (!current()) return;
      // Only window/level on stored values is lost: show the rendered PNG and say so.
      clearTimeout(previewTimer);
      this.rawError = error.message;
      await this._showPng(sop).catch(() => {});
      this.onChange(this.state());
      return;
    } finally {
      clearTimeout(previewTimer);
    }
    this.stats.rawReadyMs = performance.now();
    this._firstImage();
    this.requestRender();
  }

  async _showPng(sop) {
    const bitmap = await createImageBitmap(await api.framePng(sop, 0, { max_size: 2048 }));
    this.preview = bitmap;
    this._firstImage();
    this.requestRender();
  }

  _firstImage() {
    if (this.stats.firstImageMs !== null) return;
    this.stats.firstImageMs = performance.now();
    this.canvas.dispatchEvent(new Event("firstimage"));
  }

  _setRaw(headers, buffer) {
    const { window: fileWindow, ...image } = parseRawFrame(headers, buffer, this.dims);
    this.image = image;
    const { rows, cols } = image;
    this.dims = { rows, cols };
    this.buffer.width = cols;
    this.buffer.height = rows;
    this.imageData = this.bufferCtx.createImageData(cols, rows);
    this.small = null;
    this.paintedStep = 1;
    this.out32 = new Uint32Array(this.imageData.data.buffer);
    if (fileWindow) this.defaultWindow = fileWindow;
    if (!this.defaultWindow) this.defaultWindow = fullRangeWindow(image);
    this.window = { ...this.defaultWindow };
    this.percentiles = null;
    this.dirtyPixels = true;
    this.onChange(this.state());
  }

  // -- window / level ----------------------------------------------------------------------------

  get ready() {
    return this.image !== null;
  }

  // ``interactive``: part of a drag, so a quick reduced-resolution frame is fine until the drag pauses.
  setWindow(center, width, { interactive = false } = {}) {
    this.window = { center, width: Math.max(1, width) };
    this.interactive = interactive;
    this.dirtyPixels = true;
    this.requestRender();
    this.onChange(this.state());
  }

  resetWindow() {
    if (this.defaultWindow) this.setWindow(this.defaultWindow.center, this.defaultWindow.width);
  }

  preset(name) {
    if (!this.image) return;
    const window = presetWindow(name, this.modality, (p) => this._attenuationPercentile(p));
    if (window) this.setWindow(window.center, window.width);
  }

  // Value at attenuation percentile p: for MONOCHROME1 the largest stored values are the least dense.
  _attenuationPercentile(p) {
    if (!this.percentiles) this.percentiles = histogramPercentiles(this.image);
    const q = this.image.photometric === "MONOCHROME1" ? 100 - p : p;
    return this.percentiles(q);
  }

  toggleInvert() {
    this.inverted = !this.inverted;
    this.dirtyPixels = true;
    this.requestRender();
    this.onChange(this.state());
  }

  // Paint the frame through the LUT into an offscreen canvas, on every ``step``-th stored pixel.
  _paintPixels(step) {
    const { pixels, min, dtype, cols, rows } = this.image;
    if (dtype === "float32") {
      paintFloat(this.image, this.window, this.inverted, this.out32);
      this.bufferCtx.putImageData(this.imageData, 0, 0);
      return 1;
    }
    const lut = (this.lut = buildLut(this.image, this.window, this.inverted, this.lut));
    if (step === 1) {
      const out = this.out32;
      const n = pixels.length;
      if (min === 0) for (let i = 0; i < n; i++) out[i] = lut[pixels[i]];
      else for (let i = 0; i < n; i++) out[i] = lut[pixels[i] - min];
      this.bufferCtx.putImageData(this.imageData, 0, 0);
      return 1;
    }
    const small = this._smallBuffer(step);
    const out = small.out32;
    let k = 0;
    for (let y = 0; y < rows; y += step) {
      const end = y * cols + cols;
      for (let i = y * cols; i < end; i += step) out[k++] = lut[pixels[i] - min];
    }
    small.ctx.putImageData(small.imageData, 0, 0);
    return step;
  }

  _smallBuffer(step) {
    if (this.small?.step === step) return this.small;
    const width = Math.ceil(this.image.cols / step);
    const height = Math.ceil(this.image.rows / step);
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext("2d", { alpha: false });
    const imageData = ctx.createImageData(width, height);
    this.small = { step, canvas, ctx, imageData, out32: new Uint32Array(imageData.data.buffer) };
    return this.small;
  }

  // -- geometry ----------------------------------------------------------------------------------

  _resize() {
    const box = this.canvas.parentElement.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(box.width * ratio));
    const height = Math.max(1, Math.round(box.height * ratio));
    if (width === this.canvas.width && height === this.canvas.height) return;
    const fitted = this._fitted;
    this.canvas.width = width;
    this.canvas.height = height;
    if (fitted !== false) this.fit(false);
    this.requestRender();
  }

  fit(notify = true) {
    if (!this.dims) return;
    const { cols, rows } = this.dims;
    this.scale = Math.min(this.canvas.width / cols, this.canvas.height / rows);
    this.tx = (this.canvas.width - cols * this.scale) / 2;
    this.ty = (this.canvas.height - rows * this.scale) / 2;
    this._fitted = true;
    this.requestRender();
    if (notify) this.onChange(this.state());
  }

  reset() {
    this.inverted = false;
    this.resetWindow();
    this.fit();
  }

  zoomAt(factor, cx, cy) {
    const next = Math.min(40, Math.max(0.02, this.scale * factor));
    const k = next / this.scale;
    this.tx = cx - (cx - this.tx) * k;
    this.ty = cy - (cy - this.ty) * k;
    this.scale = next;
    this._fitted = false;
    this.requestRender();
    this.onChange(this.state());
  }

  zoom(factor) {
    this.zoomAt(factor, this.canvas.width / 2, this.canvas.height / 2);
  }

  pan(dx, dy) {
    this.tx += dx;
    this.ty += dy;
    this._fitted = false;
    this.requestRender();
  }

  // -- drawing -----------------------------------------------------------------------------------

  requestRender() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.render();
    });
  }

  render() {
    const t0 = performance.now();
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.dims) return;
    const { cols, rows } = this.dims;
    ctx.imageSmoothingEnabled = this.scale < 2; // magnified: show real pixels, not a blur
    if (this.image) {
      if (this.dirtyPixels) {
        const step = this.interactive ? Math.max(1, Math.min(4, Math.floor(1 / this.scale))) : 1;
        this.paintedStep = this._paintPixels(step);
        this.dirtyPixels = false;
        clearTimeout(this.settleTimer);
        if (this.paintedStep > 1) {
          this.settleTimer = setTimeout(() => {
            this.interactive = false;
            this.dirtyPixels = true;
            this.requestRender();
          }, SETTLE_MS);
        }
      }
      const k = this.paintedStep;
      ctx.setTransform(this.scale * k, 0, 0, this.scale * k, this.tx, this.ty);
      ctx.drawImage(k > 1 ? this.small.canvas : this.buffer, 0, 0);
    } else if (this.preview) {
      ctx.setTransform(this.scale, 0, 0, this.scale, this.tx, this.ty);
      if (this.inverted) ctx.filter = "invert(1)";
      ctx.drawImage(this.preview, 0, 0, cols, rows);
      ctx.filter = "none";
    } else {
      return;
    }
    this.stats.renders += 1;
    this.stats.renderMs += performance.now() - t0;
  }

  // -- pointer (bound in pointer.js) ----------------------------------------------------------

  reportPixelAt(p) {
    if (!this.dims) return;
    const x = Math.floor((p.x - this.tx) / this.scale);
    const y = Math.floor((p.y - this.ty) / this.scale);
    if (x < 0 || y < 0 || x >= this.dims.cols || y >= this.dims.rows) {
      this.onPixel(null);
      return;
    }
    if (!this.image) {
      this.onPixel({ x, y, stored: null, value: null });
      return;
    }
    const stored = this.image.pixels[y * this.image.cols + x];
    this.onPixel({ x, y, stored, value: stored * this.image.slope + this.image.intercept });
  }

  state() {
    return {
      center: this.window.center,
      width: this.window.width,
      inverted: this.inverted,
      zoom: this.scale * (this.dims ? 1 : 0),
      ready: this.ready,
      error: this.rawError || null,
    };
  }

  // Checksum of what is on screen (used by the browser test to see that a drag changes pixels).
  screenChecksum() {
    const { width, height } = this.canvas;
    const data = this.ctx.getImageData(0, 0, width, height).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) sum = (sum * 31 + data[i]) >>> 0;
    return sum;
  }
}
