// OpenID Connect sign-on on the login page. The "Sign in with <IdP>" link shows only when the server offers
// it (/ui/vocabulary.json "sso"). The callback comes back to "/" with the session, or the refusal's reason,
// in the URL fragment (never sent to a server, never in a Referer header); it is stored as a password
// login's session is (sessionStorage) and cleared from the address bar and the history entry at once.

import { SIGN_ON, setSession, statusLabelsReady } from "./api.js";

// {signedIn, error}: what the fragment handed over ("" and false when it held nothing of ours).
export function takeSsoReturn() {
  const fields = new URLSearchParams(location.hash.slice(1));
  const token = fields.get("access_token");
  const error = fields.get("sso_error");
  if (!token && error === null) return { signedIn: false, error: "" };
  history.replaceState(null, "", location.pathname + location.search);
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
  container.hidden = false;
}
