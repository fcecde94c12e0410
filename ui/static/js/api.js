// Fetch wrapper for /api/v1: adds the bearer token kept in sessionStorage, turns errors into ApiError
// with the server's message, and sends the user back to the login page when the session has ended.

const TOKEN_KEY = "medvlm.token";
const USER_KEY = "medvlm.user";
export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function currentUser() {
  try {
    return JSON.parse(sessionStorage.getItem(USER_KEY) || "null");
  } catch {
    return null;
  }
}

export function setSession(token, user) {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(USER_KEY, JSON.stringify(user || null));
}

export function clearSession() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
}

export function toLogin() {
  clearSession();
  const next = encodeURIComponent(location.pathname + location.search);
  location.assign(`/?next=${next}`);
}

function errorMessage(status, body) {
  if (body && typeof body === "object") {
    const detail = body.detail ?? body.message ?? body.error;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
    if (detail) return JSON.stringify(detail);
  }
  return `HTTP ${status}`;
}

// request(path, {method, json, headers, as}) -> parsed JSON (default), Response (as: "response"),
// Blob (as: "blob") or ArrayBuffer (as: "arrayBuffer").
export async function request(path, options = {}) {
  const { method = "GET", json, headers = {}, as = "json", signal, auth = true } = options;
  const init = { method, headers: { ...headers }, signal };
  const token = getToken();
  if (auth && token) init.headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const response = await fetch(path.startsWith("/") ? path : `${API}/${path}`, init);
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (response.status === 401 && auth && token) {
      toLogin();
    }
    throw new ApiError(response.status, errorMessage(response.status, body), body);
  }
  if (as === "response") return response;
  if (as === "blob") return response.blob();
  if (as === "arrayBuffer") return response.arrayBuffer();
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const api = {
  login: (username, password) =>
    request("auth/login", { method: "POST", json: { username, password }, auth: false }),
  logout: () => request("auth/logout", { method: "POST" }),
  me: () => request("auth/me"),
  studies: (params) => request(`studies?${new URLSearchParams(params)}`),
  study: (uid) => request(`studies/${encodeURIComponent(uid)}`),
  report: (uid) => request(`studies/${encodeURIComponent(uid)}/report`),
  saveReport: (id, body) => request(`reports/${id}`, { method: "PUT", json: body }),
  regenerate: (id, findings, baseVersion) =>
    request(`reports/${id}/regenerate`, { method: "POST", json: { findings, base_version: baseVersion ?? undefined } }),
  sign: (id) => request(`reports/${id}/sign`, { method: "POST", json: { confirm: true } }),
  addendum: (id, text) => request(`reports/${id}/addenda`, { method: "POST", json: { text } }),
  jobs: (uid) => request(`jobs?study_uid=${encodeURIComponent(uid)}`),
  requestDraft: (uid, body) => request(`studies/${encodeURIComponent(uid)}/draft`, { method: "POST", json: body }),
  exportBlob: (id, kind) => request(`reports/${id}/export/${kind}`, { as: "response" }),
  framePng: (sop, n, params) =>
    request(`instances/${encodeURIComponent(sop)}/frames/${n}.png?${new URLSearchParams(params)}`, { as: "blob" }),
  frameRaw: (sop, n) => request(`instances/${encodeURIComponent(sop)}/frames/${n}/raw`, { as: "response" }),
};

// Small DOM helper shared by the pages: el("div", {class: "x", onclick}, child, "text").
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function fmtDate(value) {
  if (!value) return "";
  const s = String(value);
  if (/^\d{8}$/.test(s)) return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}`;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toISOString().slice(0, 16).replace("T", " ");
}

// Status labels come from the server (/ui/vocabulary.json, one definition in medvlm.service.statuses);
// until they arrive, or if they cannot, a status shows as its value.
export const STATUS_LABELS = {};
export const STUDY_STATUSES = [];
// role -> permissions, from the same vocabulary (one definition: medvlm.compliance.policy)
export const PERMISSIONS = {};
// sign-on choices besides the password: {sso: {name, login} | null} (OpenID Connect, when configured)
export const SIGN_ON = { sso: null };
export const statusLabelsReady = fetch("/ui/vocabulary.json")
  .then((response) => (response.ok ? response.json() : { study_statuses: {}, report_statuses: {} }))
  .then((vocabulary) => {
    Object.assign(STATUS_LABELS, vocabulary.study_statuses, vocabulary.report_statuses);
    STUDY_STATUSES.push(...Object.keys(vocabulary.study_statuses));
    Object.assign(PERMISSIONS, vocabulary.permissions || {});
    SIGN_ON.sso = vocabulary.sso || null;
  })
  .catch(() => {});

// Whether the signed-in user's role holds ``permission`` (call after statusLabelsReady).
export function may(permission) {
  const role = currentUser()?.role;
  return Boolean(role && (PERMISSIONS[role] || []).includes(permission));
}
