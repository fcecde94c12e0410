// WCAG 2 contrast ratio of each visible text element against its first opaque background (used by
// tests/ui/test_review_details.py through page.evaluate).
(selectors) => {
  const lum = (c) => {
    const [r, g, b] = c.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const rgba = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgba(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] > 0.9) return c.slice(0, 3);
    }
    return [0, 0, 0];
  };
  const out = [];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.offsetParent || !el.textContent.trim() || el.disabled) continue;
      const fg = rgba(getComputedStyle(el).color).slice(0, 3);
      const [hi, lo] = [lum(fg), lum(background(el))].sort((a, b) => b - a);
      out.push({ sel, text: el.textContent.trim().slice(0, 30), ratio: (hi + 0.05) / (lo + 0.05) });
    }
  }
  return out;
}
