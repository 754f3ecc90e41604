import type { Membership } from '../../auth/access-tokens.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

export type AuthorizePageModel = {
  platformName: string;
  /** The authorization request's parameters, carried through the form unchanged. */
  params: Record<string, string>;
  error?: string;
  email?: string;
  /** Second step: the user is signed in (ticket) and belongs to several tenants. */
  choice?: { ticket: string; tenants: Membership[] };
};

/** The look of the pages Gatehouse serves to people (this one, the invitation page). */
export const STYLE = `body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 2px 12px #0002;width:22rem}
h1{font-size:1.25rem;margin:0 0 .5rem}p{color:#444;font-size:.95rem}label{display:block;margin:.75rem 0 .25rem;font-size:.9rem}
input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #bbb;border-radius:4px}
.error{color:#a00;background:#fee;padding:.5rem;border-radius:4px}.actions{display:flex;gap:.5rem;margin-top:1.25rem}
button{flex:1;padding:.6rem;border-radius:4px;border:1px solid #888;background:#fff;cursor:pointer}button.primary{background:#1a5fb4;color:#fff;border-color:#1a5fb4}`;

function hidden(params: Record<string, string>): string {
  return Object.entries(params).map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('\n');
}

/** The account-linking page: sign in, pick a tenant if there are several, allow or cancel. */
export function renderAuthorizePage(model: AuthorizePageModel): string {
  const platform = escapeHtml(model.platformName);
  const error = model.error ? `<p class="error" role="alert">${escapeHtml(model.error)}</p>` : '';
  const body = model.choice
    ? `<p>Choose the home ${platform} may control:</p>
       <input type="hidden" name="ticket" value="${escapeHtml(model.choice.ticket)}">
       ${model.choice.tenants.map((t, i) => `<label><input type="radio" name="tenant" value="${escapeHtml(t.id)}"${i === 0 ? ' checked' : ''}> ${escapeHtml(t.slug)} (${escapeHtml(t.role)})</label>`).join('\n')}`
    : `<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(model.email ?? '')}">
       <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Link ${platform} to Gatehouse</title><style>${STYLE}</style></head>
<body><main>
<h1>Link ${platform} to Gatehouse</h1>
<p>${platform} is asking to use your Gatehouse account: to read your devices' state and send them the commands you allow by voice. Sensitive actions still need your voice PIN.</p>
${error}
<form method="post" action="/oauth/authorize">
${hidden(model.params)}
${body}
<div class="actions">
<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
<button type="submit" name="action" value="allow" class="primary">Allow</button>
</div>
</form>
</main></body></html>`;
}

/** Shown instead of redirecting when the client or redirect URI cannot be trusted (RFC 6749 §4.1.2.1). */
export function renderErrorPage(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Account linking failed</title><style>${STYLE}</style></head>
<body><main><h1>Account linking failed</h1><p class="error" role="alert">${escapeHtml(message)}</p></main></body></html>`;
}
