import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { createTenant } from '../../src/core/tenants.js';
import { call, startTestGateway, type TestGateway } from '../support/gateway.js';

/** Debian's chromium (`apt-get install chromium`, done by .ci/run); its absence fails the test rather than skipping it. */
const ADMIN_PASSWORD = 'correct horse battery';
const CHOSEN = 'a new passphrase of mine';

describe('an invitation round trip in a real browser', () => {
  let t: TestGateway;
  let browser: Browser;
  let adminToken: string;

  beforeAll(async () => {
    t = await startTestGateway();
    const core = t.gateway.core;
    await createTenant(core.db, { slug: 'home', name: 'The Home' });
    await core.auth.members.add(await operatorContext(core.db, 'home'), { email: 'admin@home.test', password: ADMIN_PASSWORD, role: 'admin' });
    const login = await call<{ access_token: string }>(t.base, 'POST', '/v1/auth/login', { body: { email: 'admin@home.test', password: ADMIN_PASSWORD } });
    adminToken = login.body.access_token;
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('an admin invites, the invitee sets a password on the page, logs in with the invited role, and the link is spent', async () => {
    const invited = await call<{ outcome: string; link: string }>(t.base, 'POST', '/v1/members', { token: adminToken, body: { email: 'newcomer@home.test', role: 'member' } });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    expect(invited.body.outcome).toBe('invited');
    // The link names PUBLIC_URL (here http://localhost:<port>), as handed to the invitee.
    expect(invited.body.link.startsWith(`${t.gateway.publicUrl}/invitations/`)).toBe(true);

    const page = await browser.newPage();
    await page.goto(invited.body.link);
    await expect(page.title()).resolves.toBe('Join Gatehouse');
    expect(await page.textContent('h1')).toBe('Join The Home');
    expect(await page.inputValue('#email')).toBe('newcomer@home.test');

    // Two different passwords: the page says so and keeps the form.
    await page.fill('#password', CHOSEN);
    await page.fill('#password_confirm', `${CHOSEN}!`);
    await page.click('button[type="submit"]');
    await expect(page.textContent('[role="alert"]')).resolves.toBe('The two passwords differ.');

    await page.fill('#password', CHOSEN);
    await page.fill('#password_confirm', CHOSEN);
    await page.click('button[type="submit"]');
    expect(await page.textContent('h1')).toBe('Welcome to The Home');
    expect(await page.textContent('[role="status"]')).toContain('you are member of The Home');

    const login = await call<{ access_token: string }>(t.base, 'POST', '/v1/auth/login', { body: { email: 'newcomer@home.test', password: CHOSEN } });
    expect(login.status).toBe(200);
    const me = await call(t.base, 'GET', '/v1/me', { token: login.body.access_token });
    expect(me.body).toMatchObject({ user: { email: 'newcomer@home.test' }, tenant: { slug: 'home' }, roles: ['member'] });

    // The link is spent: the page says so, and no form is shown.
    const again = await page.goto(invited.body.link);
    expect(again?.status()).toBe(410);
    expect(await page.textContent('[role="alert"]')).toContain('This invitation was already used.');
    expect(await page.locator('form').count()).toBe(0);
    const listed = await call<{ invitations: unknown[] }>(t.base, 'GET', '/v1/invitations', { token: adminToken });
    expect(listed.body.invitations).toEqual([]);

    const accepted = await t.gateway.core.db.withPlatform(async (tx) => (await tx.query(
      `SELECT channel, principal, details->>'role' AS role FROM security_events WHERE event_type = 'INVITATION_ACCEPTED'`)).rows);
    expect(accepted).toEqual([{ channel: 'web', principal: null, role: 'member' }]);
    await page.close();
  });

  it('a password too short is refused on the page, and the link stays usable', async () => {
    const invited = await call<{ link: string }>(t.base, 'POST', '/v1/members', { token: adminToken, body: { email: 'shorty@home.test', role: 'viewer' } });
    const page = await browser.newPage();
    await page.goto(invited.body.link);
    // The browser's own minlength check would stop the form; the server's rule is what is tested.
    await page.$eval('form', (form) => form.setAttribute('novalidate', ''));
    await page.fill('#password', 'short');
    await page.fill('#password_confirm', 'short');
    await page.click('button[type="submit"]');
    await expect(page.textContent('[role="alert"]')).resolves.toBe('The password must have at least 10 characters.');
    await page.fill('#password', CHOSEN);
    await page.fill('#password_confirm', CHOSEN);
    await page.click('button[type="submit"]');
    expect(await page.textContent('h1')).toBe('Welcome to The Home');
    await page.close();
  });
});
