// OpenID Connect sign-on on the login page. The "Sign in with <IdP>" link shows only when the server offers
// it (/ui/vocabulary.json "sso"). The callback comes back to "/" with the session, or the refusal's reason,
// in the URL fragment (never sent to a server, never in a Referer header); it is stored as a password
// login's session is (sessionStorage) and cleared from the address bar and the history entry at once.

import { SIGN_ON, setSession, statusLabelsReady } from "./api.js";

// Set when this tab follows the SSO link: a fragment is taken only by the tab that started the sign-on, so
// a crafted link carrying someone else's token cannot sign a user in as another account (login CSRF).
const STARTED_KEY = "medvlm.sso.started";

// {signedIn, error}: what the fragment handed over ("" and false when it held nothing of ours).
export function takeSsoReturn() {
  const fields = new URLSearchParams(location.hash.slice(1));
  const token = fields.get("access_token");
  const error = fields.get("sso_error");
  if (!token && error === null) return { signedIn: false, error: "" };
  history.replaceState(null, "", location.pathname + location.search);
  const started = sessionStorage.getItem(STARTED_KEY);
  sessionStorage.removeItem(STARTED_KEY);
  if (!started) return { signedIn: false, error: "this tab did not start that sign-on; start again here" };
  if (token) setSession(token, { username: fields.get("username") || "", role: fields.get("role") || "" });
  return { signedIn: Boolean(token), error: token ? "" : error || "the sign-on was refused" };
}

// Shows the SSO link under the password form once the vocabulary says OIDC is configured.
export async function showSsoButton(container, link) {
  await statusLabelsReady;
  const sso = SIGN_ON.sso;
  if (!sso || typeof sso.login !== "string" || !sso.login.startsWith("/")) return;
  link.textContent = `Sign in with ${sso.name || "SSO"}`;
  link.href = sso.login;
  link.onclick = () => sessionStorage.setItem(STARTED_KEY, String(Date.now()));
  container.hidden = false;
}
