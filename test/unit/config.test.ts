import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { startClock } from '../../src/clock.js';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const config = loadConfig({}, false);
    expect(config).toMatchObject({
      httpPort: 8080, mqttPort: 1883, mqttsPort: 8883, databaseUrl: undefined,
      dataDir: path.resolve('./data'), logLevel: 'info', logFormat: 'json', publicUrl: undefined,
      auth: { sessionCacheMs: 2_000, invitationTtlHours: 168 },
    });
  });

  it('reads the Alexa skills\' secrets by skill id, and never echoes a malformed one', () => {
    const secret = 's'.repeat(32);
    const config = loadConfig({ ALEXA_SMART_HOME_SECRETS: `amzn1.ask.skill.a=${secret},amzn1.ask.skill.b=${secret}x` }, false);
    expect([...config.alexa.skillSecrets]).toEqual([['amzn1.ask.skill.a', secret], ['amzn1.ask.skill.b', `${secret}x`]]);
    expect(config.alexa.commandWaitMs).toBe(6_000);
    expect(loadConfig({}, false).alexa.skillSecrets.size).toBe(0);
    let caught: unknown;
    try {
      loadConfig({ ALEXA_SMART_HOME_SECRETS: 'amzn1.ask.skill.a=too-short-secret' }, false);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toContain('ALEXA_SMART_HOME_SECRETS');
    expect((caught as ConfigError).message).not.toContain('too-short-secret');
  });

  it('reads each skill\'s Login with Amazon client, never echoes it, and defaults the endpoints to Amazon\'s', () => {
    const config = loadConfig({ ALEXA_LWA_CLIENTS: 'amzn1.ask.skill.a=amzn1.application-oa2-client.x:amzn1.oa2-cs.v1.secret' }, false);
    expect([...config.alexa.lwaClients]).toEqual([['amzn1.ask.skill.a', { clientId: 'amzn1.application-oa2-client.x', clientSecret: 'amzn1.oa2-cs.v1.secret' }]]);
    expect(config.alexa).toMatchObject({ lwaTokenUrl: 'https://api.amazon.com/auth/o2/token', eventGatewayUrl: 'https://api.amazonalexa.com/v3/events', reportIntervalMs: 1_000, deferralSeconds: 30 });
    expect(() => loadConfig({ ALEXA_LWA_CLIENTS: 'amzn1.ask.skill.a=no-secret-here' }, false)).toThrow(ConfigError);
    try {
      loadConfig({ ALEXA_LWA_CLIENTS: 'amzn1.ask.skill.a=no-secret-here' }, false);
    } catch (error) {
      expect((error as ConfigError).message).not.toContain('no-secret-here');
    }
  });

  it('is pretty in a terminal unless told otherwise', () => {
    expect(loadConfig({}, true).logFormat).toBe('pretty');
    expect(loadConfig({ LOG_FORMAT: 'json' }, true).logFormat).toBe('json');
  });

  it('names every wrong variable, and hides a password in the echo', () => {
    let caught: unknown;
    try {
      loadConfig({ HTTP_PORT: 'eighty', DATABASE_URL: 'mysql://root:hunter2@db/x', LOG_LEVEL: 'loud' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.problems).toHaveLength(3);
    expect(error.message).toMatch(/HTTP_PORT: .*"eighty"/);
    expect(error.message).toMatch(/DATABASE_URL: must be a URL like postgres:/);
    expect(error.message).toMatch(/LOG_LEVEL/);
    expect(error.message).not.toContain('hunter2');
  });

  it('rejects a port out of range', () => {
    expect(() => loadConfig({ MQTT_PORT: '70000' })).toThrow(/MQTT_PORT: must be 0..65535/);
  });

  it('keeps PUBLIC_URL as given, without a trailing slash, and leaves it unset otherwise (main.ts fills in the bound port)', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://gateway.example.com/' }).publicUrl).toBe('https://gateway.example.com');
    expect(loadConfig({ HTTP_PORT: '0' }).publicUrl).toBeUndefined();
  });

  it('takes the session-state cache lifetime in milliseconds, 0..60 000', () => {
    expect(loadConfig({ AUTH_SESSION_CACHE_MS: '0' }).auth.sessionCacheMs).toBe(0);
    expect(() => loadConfig({ AUTH_SESSION_CACHE_MS: '60001' })).toThrow(/AUTH_SESSION_CACHE_MS/);
  });

  it('takes the push lease in milliseconds, 1 000..3 600 000, 30 s unless told', () => {
    expect(loadConfig({}).push.leaseMs).toBe(30_000);
    expect(loadConfig({ PUSH_LEASE_MS: '2000' }).push.leaseMs).toBe(2_000);
    expect(() => loadConfig({ PUSH_LEASE_MS: '999' })).toThrow(/PUSH_LEASE_MS/);
  });

  it('takes CLOCK_START as an ISO instant with a zone, and the clock started from it advances in real time', () => {
    expect(loadConfig({}).clockStart).toBeUndefined();
    expect(loadConfig({ CLOCK_START: '2027-01-15T02:29:40+01:00' }).clockStart?.toISOString()).toBe('2027-01-15T01:29:40.000Z');
    expect(() => loadConfig({ CLOCK_START: '2027-01-15 02:29' })).toThrow(/CLOCK_START/);
    expect(() => loadConfig({ CLOCK_START: '2027-01-15T02:29:40' })).toThrow(/CLOCK_START/);
    vi.useFakeTimers({ now: new Date('2026-12-03T18:00:00Z') });
    try {
      const clock = startClock(new Date('2027-01-15T01:29:40Z'));
      expect(clock().toISOString()).toBe('2027-01-15T01:29:40.000Z');
      vi.advanceTimersByTime(20_000);
      expect(clock().toISOString()).toBe('2027-01-15T01:30:00.000Z');
      expect(startClock(undefined)().toISOString()).toBe('2026-12-03T18:00:20.000Z');
    } finally {
      vi.useRealTimers();
    }
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', HTTP_PORT: '' }).httpPort).toBe(8080);
  });
});
