// Stored values -> grey levels, kept apart from the canvas: parse a raw frame, window presets, value
// percentiles, and the lookup table that follows the DICOM linear VOI function.

const CT_PRESETS = {
  lung: { center: -600, width: 1500 },
  mediastinum: { center: 40, width: 400 },
  bone: { center: 480, width: 2500 },
};
// For projection radiographs (no Hounsfield units) the presets are ranges of the image's own value
// distribution, in attenuation order (air first): lungs get the low end, mediastinum the dense end.
const PERCENTILE_PRESETS = {
  lung: [1, 55],
  mediastinum: [35, 99.5],
  bone: [10, 99.95],
};
const PIXEL_TYPES = { uint16: Uint16Array, int16: Int16Array, uint8: Uint8Array, float32: Float32Array };

// The raw frame answer (headers + body) as {rows, cols, pixels, min, max, slope, intercept, dtype,
// photometric, window}; ``window`` is the file's default window or null. Throws naming what is wrong.
export function parseRawFrame(headers, buffer, dims) {
  const num = (name, fallback) => {
    const value = headers.get(name);
    return value === null || value === "" ? fallback : Number(value);
  };
  const rows = num("X-Rows", dims.rows);
  const cols = num("X-Columns", dims.cols);
  const dtype = (headers.get("X-Pixel-Dtype") || "uint16").toLowerCase();
  if (num("X-Samples-Per-Pixel", 1) !== 1) throw new Error("colour image: window/level applies to greyscale only");
  const Type = PIXEL_TYPES[dtype];
  if (!Type) throw new Error(`unsupported pixel type ${dtype}`);
  if (buffer.byteLength !== rows * cols * Type.BYTES_PER_ELEMENT) {
    throw new Error(`raw frame has ${buffer.byteLength} bytes, expected ${rows}x${cols} ${dtype}`);
  }
  const pixels = new Type(buffer);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const wc = num("X-Window-Center", NaN);
  const ww = num("X-Window-Width", NaN);
  return {
    rows, cols, pixels, min, max, dtype,
    slope: num("X-Rescale-Slope", 1) || 1,
    intercept: num("X-Rescale-Intercept", 0),
    photometric: (headers.get("X-Photometric") || "MONOCHROME2").toUpperCase(),
    window: Number.isFinite(wc) && Number.isFinite(ww) && ww > 0 ? { center: wc, width: ww } : null,
  };
}

// A window spanning the image's whole value range (for files that name none).
export function fullRangeWindow({ min, max, slope, intercept }) {
  const lo = min * slope + intercept;
  const hi = max * slope + intercept;
  return { center: (lo + hi) / 2, width: Math.max(1, Math.abs(hi - lo)) };
}

// The window of preset ``name`` (null for an unknown one): fixed HU windows for CT, value percentiles
// otherwise. ``percentileOf(p)`` gives the modality value at attenuation percentile p.
export function presetWindow(name, modality, percentileOf) {
  if (modality === "CT" && CT_PRESETS[name]) return { ...CT_PRESETS[name] };
  const range = PERCENTILE_PRESETS[name];
  if (!range) return null;
  const [lo, hi] = range.map(percentileOf);
  return { center: (lo + hi) / 2, width: Math.abs(hi - lo) };
}

// q -> modality value at value percentile q, from a histogram of a sample of the frame.
export function histogramPercentiles({ pixels, min, max, slope, intercept }) {
  const bins = 4096;
  const counts = new Uint32Array(bins);
  const span = max - min || 1;
  const step = Math.max(1, Math.floor(pixels.length / 500000)); // a sample is plenty for percentiles
  let n = 0;
  for (let i = 0; i < pixels.length; i += step, n++) counts[Math.min(bins - 1, ((pixels[i] - min) / span) * bins | 0)]++;
  return (q) => {
    const target = (q / 100) * n;
    let acc = 0;
    for (let b = 0; b < bins; b++) {
      acc += counts[b];
      if (acc >= target) return (min + ((b + 0.5) / bins) * span) * slope + intercept;
    }
    return max * slope + intercept;
  };
}

// Grey level 0..1 of modality value x (DICOM linear VOI), flipped for MONOCHROME1 xor ``inverted``.
// ``minWidth`` keeps w - 1 from reaching zero (1 for integer stored values, tiny for floats).
function voi(window, flip, minWidth) {
  const c = window.center - 0.5;
  const w = Math.max(minWidth, window.width - 1);
  return (x) => {
    let y = (x - c) / w + 0.5;
    y = y <= 0 ? 0 : y >= 1 ? 1 : y;
    return flip ? 1 - y : y;
  };
}

const packGrey = (y) => {
  const g = (y * 255 + 0.5) | 0;
  return 0xff000000 | (g << 16) | (g << 8) | g;
};

// LUT from stored value (offset by min) to packed RGBA; ``lut`` is reused when large enough.
export function buildLut(image, window, inverted, lut) {
  const { min, max, slope, intercept, photometric } = image;
  const size = max - min + 1;
  const out = lut && lut.length >= size ? lut : new Uint32Array(size);
  const grey = voi(window, (photometric === "MONOCHROME1") !== inverted, 1);
  for (let i = 0; i < size; i++) out[i] = packGrey(grey((min + i) * slope + intercept));
  return out;
}

// Float frames have no finite set of stored values: window each pixel directly into ``out32``.
export function paintFloat(image, window, inverted, out32) {
  const { pixels, slope, intercept, photometric } = image;
  const grey = voi(window, (photometric === "MONOCHROME1") !== inverted, 1e-6);
  for (let i = 0; i < pixels.length; i++) out32[i] = packGrey(grey(pixels[i] * slope + intercept));
}
