// Mouse and touch on the viewer's canvas: left drag = window/level, shift or middle drag = pan,
// ctrl or right drag = zoom, wheel = zoom at the cursor; the value under the cursor is reported.

function canvasPoint(canvas, event) {
  const rect = canvas.getBoundingClientRect();
  const ratio = canvas.width / rect.width;
  return { x: (event.clientX - rect.left) * ratio, y: (event.clientY - rect.top) * ratio };
}

function dragMode(event) {
  if (event.button === 1 || event.shiftKey) return "pan";
  if (event.button === 2 || event.ctrlKey) return "zoom";
  return "window";
}

export function bindPointer(viewer) {
  const canvas = viewer.canvas;
  let drag = null;
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("pointerdown", (event) => {
    canvas.focus({ preventScroll: true });
    const p = canvasPoint(canvas, event);
    const mode = dragMode(event);
    drag = { mode, x: p.x, y: p.y, window: { ...viewer.window } };
    canvas.setPointerCapture(event.pointerId);
    canvas.dataset.dragging = mode;
  });
  canvas.addEventListener("pointermove", (event) => {
    const p = canvasPoint(canvas, event);
    viewer.reportPixelAt(p);
    if (!drag) return;
    const dx = p.x - drag.x;
    const dy = p.y - drag.y;
    if (drag.mode === "pan") {
      viewer.pan(dx, dy);
      drag.x = p.x;
      drag.y = p.y;
    } else if (drag.mode === "zoom") {
      viewer.zoomAt(Math.exp(-dy / 200), drag.x, drag.y);
      drag.y = p.y;
    } else if (viewer.image) {
      // Sensitivity follows the value range so a drag across the canvas spans the whole image.
      const { min, max, slope } = viewer.image;
      const perPixel = (Math.abs((max - min) * slope) || 1) / Math.max(300, canvas.width);
      viewer.setWindow(drag.window.center + dy * perPixel, Math.max(1, drag.window.width + dx * perPixel * 2),
        { interactive: true });
    }
  });
  const end = (event) => {
    if (!drag) return;
    drag = null;
    delete canvas.dataset.dragging;
    if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("pointerleave", () => viewer.onPixel(null));
  canvas.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      const p = canvasPoint(canvas, event);
      viewer.zoomAt(Math.exp(-event.deltaY / 500), p.x, p.y);
    },
    { passive: false },
  );
}
