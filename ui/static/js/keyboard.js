// Keyboard shortcuts shared by the pages, and the help overlay that lists them (opened with "?").
// Single-key shortcuts are ignored while the user types in a field; shortcuts with a modifier work anywhere.

import { el } from "./api.js";

function typing(event) {
  const t = event.target;
  return t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
}

// shortcut: {keys: ["n", "Alt+ArrowDown"], label: "shown in help", run(event) (false = not handled), anywhere?: bool}
// "Ctrl+Enter" -> modifiers ["Ctrl"] and key "Enter"; "+" (or "Ctrl++") is the plus key itself.
function splitSpec(spec) {
  if (spec === "+") return [[], "+"];
  if (spec.endsWith("++")) return [spec.slice(0, -2).split("+"), "+"];
  const parts = spec.split("+");
  return [parts, parts.pop()];
}

function matches(spec, event) {
  const [parts, key] = splitSpec(spec);
  const want = { Alt: false, Control: false, Shift: null, Meta: false };
  for (const mod of parts) want[mod === "Ctrl" ? "Control" : mod] = true;
  if (event.altKey !== want.Alt || event.ctrlKey !== want.Control || event.metaKey !== want.Meta) return false;
  if (want.Shift !== null && event.shiftKey !== want.Shift) return false;
  return event.key === key || event.key.toLowerCase() === key.toLowerCase();
}

function keyLabel(spec) {
  const [mods, key] = splitSpec(spec);
  return [...mods, key].map((k) => ({ ArrowUp: "↑", ArrowDown: "↓", ArrowLeft: "←", ArrowRight: "→", Ctrl: "Ctrl" }[k] || k));
}

export function installShortcuts(shortcuts) {
  const overlay = buildHelp(shortcuts);
  document.body.append(overlay);
  const all = [
    ...shortcuts,
    { keys: ["?"], label: "Show this help", run: () => toggleHelp(overlay) },
  ];
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !overlay.hidden) {
      toggleHelp(overlay, false);
      event.preventDefault();
      return;
    }
    if (document.querySelector("dialog[open]")) return; // a dialog owns the keyboard
    for (const shortcut of all) {
      for (const spec of shortcut.keys) {
        const hasModifier = /(Alt|Ctrl|Meta)\+/.test(spec);
        if (!matches(spec, event)) continue;
        if (typing(event) && !hasModifier && !shortcut.anywhere) continue;
        if (shortcut.run(event) === false) continue; // not applicable here: let the browser have the key
        event.preventDefault();
        return;
      }
    }
  });
  return { toggleHelp: (show) => toggleHelp(overlay, show) };
}

function toggleHelp(overlay, show) {
  const open = show ?? overlay.hidden;
  overlay.hidden = !open;
  if (open) {
    overlay.dataset.returnFocus = "";
    overlay._return = document.activeElement;
    overlay.querySelector("button").focus();
  } else if (overlay._return instanceof HTMLElement) {
    overlay._return.focus();
  }
}

function buildHelp(shortcuts) {
  const rows = [...shortcuts, { keys: ["?"], label: "Show or hide this help" }, { keys: ["Escape"], label: "Close help or dialog" }]
    .map((s) => el("tr", {}, el("td", {}, s.keys.map((k, i) => [i ? " / " : "", ...keyLabel(k).map((p, j) => [j ? "+" : "", el("kbd", {}, p)])])), el("td", {}, s.label)));
  const overlay = el(
    "div",
    { class: "help-overlay", id: "help", role: "dialog", "aria-modal": "true", "aria-labelledby": "help-title", hidden: true },
    el("div", { class: "help-card" },
      el("div", { class: "help-head" }, el("h2", { id: "help-title" }, "Keyboard shortcuts"),
        el("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => toggleHelp(overlay, false) }, "Close")),
      el("table", { class: "help-table" }, el("tbody", {}, rows))),
  );
  overlay.addEventListener("click", (e) => e.target === overlay && toggleHelp(overlay, false));
  return overlay;
}

export function toast(message, kind = "info", ms = 3500) {
  const node = document.getElementById("toast");
  if (!node) return;
  node.textContent = message;
  node.dataset.kind = kind;
  node.hidden = false;
  clearTimeout(node._timer);
  node._timer = setTimeout(() => { node.hidden = true; }, ms);
}
