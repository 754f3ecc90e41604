import { describe, expect, it } from 'vitest';
import { renderInvitationPage } from '../../src/api/invitations/invitation-page.js';

describe('the invitation page', () => {
  it('escapes what it shows', () => {
    const html = renderInvitationPage({ kind: 'form', action: '/invitations/gi_x"y', email: '"><script>@x.test', role: 'member', tenantName: '<b>Home</b>' });
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>Home</b>');
    expect(html).toContain('&lt;b&gt;Home&lt;/b&gt;');
    expect(html).toContain('action="/invitations/gi_x&quot;y"');
  });
});
