import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { platformRedirectUris } from '../../src/auth/oauth/clients.js';
import { createTenant } from '../../src/core/tenants.js';
import { call, startTestGateway, type TestGateway } from '../support/gateway.js';
import { ALEXA_REDIRECT, ALEXA_VENDOR, authorizeUrl, pkcePair, tokenRequest } from '../support/oauth.js';

/** Debian's chromium (`apt-get install chromium`, done by .ci/run); its absence fails the test rather than skipping it. */
const PASSWORD = 'correct horse battery';

describe('account linking in a real browser, as Alexa drives it', () => {
  let t: TestGateway;
  let browser: Browser;
  let client: { id: string; secret: string };

  beforeAll(async () => {
    t = await startTestGateway();
    const core = t.gateway.core;
    await createTenant(core.db, { slug: 'home' });
    await core.auth.members.add(await operatorContext(core.db, 'home'), { email: 'owner@home.test', password: PASSWORD, role: 'owner' });
    const created = await core.auth.oauth.clients.create({ platform: 'alexa', redirectUris: platformRedirectUris('alexa', ALEXA_VENDOR) });
    client = { id: created.clientId, secret: created.clientSecret };
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** Amazon's redirect endpoint is out of reach here: catch the navigation to it and hand back its URL. */
  async function openLinking(page: Page, challenge: string): Promise<() => Promise<URL>> {
    let resolve!: (url: URL) => void;
    const reached = new Promise<URL>((r) => (resolve = r));
    await page.route('https://pitangui.amazon.com/**', async (route) => {
      resolve(new URL(route.request().url()));
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>Linked (Amazon stand-in)</p>' });
    });
    await page.goto(authorizeUrl(t.base, {
      response_type: 'code', client_id: client.id, redirect_uri: ALEXA_REDIRECT, state: 'alexa-state-123',
      code_challenge: challenge, code_challenge_method: 'S256', scope: 'device.read device.command',
    }));
    return () => reached;
  }

  it('log in, consent, follow the redirect, exchange with the verifier, refresh, and call /v1/me as alexa', async () => {
    const page = await browser.newPage();
    const { verifier, challenge } = pkcePair();
    const redirected = await openLinking(page, challenge);
    await expect(page.title()).resolves.toBe('Link Amazon Alexa to Gatehouse');
    expect(await page.textContent('h1')).toBe('Link Amazon Alexa to Gatehouse');
    await page.fill('#email', 'owner@home.test');
    await page.fill('#password', PASSWORD);
    await page.click('button[value="allow"]');
    const url = await redirected();
    expect(url.searchParams.get('state')).toBe('alexa-state-123');
    const code = url.searchParams.get('code');
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const tokens = await tokenRequest(t.base, client, { grant_type: 'authorization_code', code: code!, redirect_uri: ALEXA_REDIRECT, code_verifier: verifier });
    expect(tokens.status).toBe(200);
    const refreshed = await tokenRequest(t.base, client, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string });
    expect(refreshed.status).toBe(200);
    const me = await call(t.base, 'GET', '/v1/me', { token: refreshed.body.access_token as string });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: { email: 'owner@home.test' }, tenant: { slug: 'home' }, channel: 'alexa', scopes: ['device.read', 'device.command'] });
    await page.close();
  });

  it('Cancel returns error=access_denied to the redirect URI', async () => {
    const page = await browser.newPage();
    const redirected = await openLinking(page, pkcePair().challenge);
    await page.click('button[value="cancel"]');
    const url = await redirected();
    expect(url.searchParams.get('error')).toBe('access_denied');
    expect(url.searchParams.get('state')).toBe('alexa-state-123');
    expect(url.searchParams.get('code')).toBeNull();
    await page.close();
  });

  it('a wrong password keeps the user on the page with the reason', async () => {
    const page = await browser.newPage();
    await openLinking(page, pkcePair().challenge);
    await page.fill('#email', 'owner@home.test');
    await page.fill('#password', 'not the password');
    await page.click('button[value="allow"]');
    await expect(page.textContent('[role="alert"]')).resolves.toBe('The email or password is wrong.');
    expect(new URL(page.url()).pathname).toBe('/oauth/authorize');
    await page.close();
  });
});
