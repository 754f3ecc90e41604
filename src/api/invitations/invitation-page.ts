import { MIN_PASSWORD_LENGTH } from '../../auth/members.js';
import { escapeHtml, STYLE } from '../oauth/authorize-page.js';

export type InvitationPageModel =
  /** The form: choose a password (again, with the reason, after a refusal). */
  | { kind: 'form'; action: string; email: string; role: string; tenantName: string; error?: string }
  /** The account exists now. */
  | { kind: 'done'; email: string; role: string; tenantName: string }
  /** The token cannot be used (unknown, used, revoked, expired): why, and no form. */
  | { kind: 'invalid'; message: string };

const TITLE = 'Join Gatehouse';

/** The set-password page of an invitation (GET and POST /invitations/<token>). */
export function renderInvitationPage(model: InvitationPageModel): string {
  let body: string;
  if (model.kind === 'invalid') {
    body = `<h1>This invitation cannot be used</h1><p class="error" role="alert">${escapeHtml(model.message)}</p>`;
  } else if (model.kind === 'done') {
    body = `<h1>Welcome to ${escapeHtml(model.tenantName)}</h1>
<p role="status">Your account <strong>${escapeHtml(model.email)}</strong> is ready: you are ${escapeHtml(model.role)} of ${escapeHtml(model.tenantName)}. Sign in with this address and the password you chose.</p>`;
  } else {
    const error = model.error ? `<p class="error" role="alert">${escapeHtml(model.error)}</p>` : '';
    body = `<h1>Join ${escapeHtml(model.tenantName)}</h1>
<p>You are invited as ${escapeHtml(model.role)}. Choose a password of at least ${MIN_PASSWORD_LENGTH} characters for your account.</p>
${error}
<form method="post" action="${escapeHtml(model.action)}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" value="${escapeHtml(model.email)}" readonly>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="new-password" minlength="${MIN_PASSWORD_LENGTH}" required>
<label for="password_confirm">Password again</label><input id="password_confirm" name="password_confirm" type="password" autocomplete="new-password" minlength="${MIN_PASSWORD_LENGTH}" required>
<div class="actions"><button type="submit" class="primary">Create my account</button></div>
</form>`;
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${TITLE}</title><style>${STYLE}</style></head>
<body><main>
${body}
</main></body></html>`;
}
