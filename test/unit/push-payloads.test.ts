import { describe, expect, it } from 'vitest';
import { SECURITY_EVENT_TYPES } from '../../src/core/audit-log.js';
import { hasCode } from '../../src/core/errors.js';
import { APNS_MAX_PAYLOAD_BYTES, buildApnsPayload } from '../../src/push/payloads/apns-payload.js';
import { buildPayload } from '../../src/push/payloads/build-payload.js';
import { FCM_MAX_PAYLOAD_BYTES, buildFcmPayload } from '../../src/push/payloads/fcm-payload.js';
import { languageOf } from '../../src/push/payloads/locale.js';
import { NOTIFICATION_TYPES, type Notification, type NotificationType } from '../../src/push/push-message.js';

const CREATED = new Date('2026-03-01T12:00:00Z');

function notification(type: NotificationType, extra: Partial<Notification> = {}): Notification {
  return {
    id: '0195f3a0-0000-7000-8000-00000000000a', type, tenantId: '0195f3a0-0000-7000-8000-0000000000b1',
    deviceName: 'front-door', commandId: '0195f3a0-0000-7000-8000-0000000000c2', commandName: 'factory_reset',
    kind: 'smoke', critical: false, data: {}, createdAt: CREATED, ...extra,
  };
}

type Aps = { alert: { title: string; body: string }; sound: unknown; 'mutable-content': number; 'thread-id': string; 'interruption-level': string; category?: string };
function apns(n: Notification, locale?: string) {
  const payload = buildApnsPayload(n, locale);
  return { payload, json: JSON.parse(payload.body) as { aps: Aps; gatehouse: Record<string, string> } };
}

const TITLES: Record<NotificationType, [string, string]> = {
  'device.alarm': ['Alarm: front-door', 'Alarm: front-door'],
  'device.event': ['front-door', 'front-door'],
  'device.offline': ['front-door is offline', 'front-door ist offline'],
  'command.failed': ['Command failed', 'Befehl fehlgeschlagen'],
  'command.expired': ['Command expired', 'Befehl abgelaufen'],
  'approval.requested': ['Approval needed', 'Freigabe erforderlich'],
  'pin.locked': ['Voice PIN locked', 'Sprach-PIN gesperrt'],
  'security.event': ['Security alert', 'Sicherheitswarnung'],
};

describe('locales', () => {
  it.each([['de-AT', 'de'], ['de_CH', 'de'], ['DE', 'de'], ['en-GB', 'en'], ['fr-FR', 'en'], ['', 'en'], [undefined, 'en']] as const)('%s → %s', (locale, language) => {
    expect(languageOf(locale)).toBe(language);
  });
});

describe('APNs payloads', () => {
  it.each(NOTIFICATION_TYPES)('%s in English and German, English for an unknown locale', (type) => {
    const [en, de] = TITLES[type];
    expect(apns(notification(type), 'en-US').json.aps.alert.title).toBe(en);
    expect(apns(notification(type), 'de-AT').json.aps.alert.title).toBe(de);
    expect(apns(notification(type), 'ja-JP').json.aps.alert.title).toBe(en);
    const body = apns(notification(type), 'de').json.aps.alert.body;
    expect(body.length).toBeGreaterThan(0);
    expect(body).not.toBe(apns(notification(type), 'en').json.aps.alert.body);
  });

  it('says what happened, with the device and command', () => {
    expect(apns(notification('command.failed')).json.aps.alert.body).toBe('factory_reset on front-door failed.');
    expect(apns(notification('device.alarm'), 'de').json.aps.alert.body).toBe('front-door hat Alarm ausgelöst (smoke).');
  });

  it('says a security event\'s type in words, any type the audit log records', () => {
    const alert = (kind: string, locale: string) => apns(notification('security.event', { kind, deviceName: undefined, commandId: undefined }), locale).json.aps.alert.body;
    expect(alert('PIN_LOCKOUT', 'en')).toBe('Security event: voice PIN locked.');
    expect(alert('VOICE_POLICY_CHANGED', 'de')).toBe('Sicherheitsereignis: Sprachrichtlinie geändert.');
    for (const type of SECURITY_EVENT_TYPES) expect(alert(type, 'en')).not.toContain(type);
    expect(alert('SOME_RETIRED_TYPE', 'en')).toBe('Security event: some retired type.');
  });

  it('is mutable, threaded per device, and carries the deep link', () => {
    const { json } = apns(notification('device.alarm', { commandId: undefined }));
    expect(json.aps['mutable-content']).toBe(1);
    expect(json.aps['thread-id']).toBe('device:front-door');
    expect(json.gatehouse).toMatchObject({ notificationId: '0195f3a0-0000-7000-8000-00000000000a', type: 'device.alarm', deepLink: 'gatehouse://devices/front-door' });
  });

  it('makes approvals actionable: category, command id, deep link, time-sensitive and urgent', () => {
    const { json, payload } = apns(notification('approval.requested'));
    expect(json.aps.category).toBe('GATEHOUSE_APPROVAL');
    expect(json.aps['interruption-level']).toBe('time-sensitive');
    expect(json.gatehouse.commandId).toBe('0195f3a0-0000-7000-8000-0000000000c2');
    expect(json.gatehouse.deepLink).toBe('gatehouse://commands/0195f3a0-0000-7000-8000-0000000000c2');
    expect(payload.priority).toBe(10);
    expect(payload.expiresAt).toEqual(new Date(CREATED.getTime() + 3600_000));
  });

  it('gives only approvals the approval category', () => {
    for (const type of NOTIFICATION_TYPES.filter((t) => t !== 'approval.requested')) expect(apns(notification(type)).json.aps.category).toBeUndefined();
  });

  it('interrupts by urgency: critical alarms, time-sensitive alarms, active events', () => {
    const critical = apns(notification('device.alarm', { critical: true })).json.aps;
    expect(critical['interruption-level']).toBe('critical');
    expect(critical.sound).toEqual({ critical: 1, name: 'default', volume: 1 });
    expect(apns(notification('device.alarm')).json.aps['interruption-level']).toBe('time-sensitive');
    expect(apns(notification('device.event')).json.aps['interruption-level']).toBe('active');
    expect(apns(notification('device.event')).payload.priority).toBe(5);
  });

  it('shortens a huge body to fit 4096 bytes, keeping the data the deep link needs', () => {
    const huge = notification('security.event', { kind: 'ü'.repeat(10_000), deviceName: undefined, commandId: undefined });
    const { payload, json } = apns(huge);
    expect(Buffer.byteLength(payload.body)).toBeLessThanOrEqual(APNS_MAX_PAYLOAD_BYTES);
    expect(Buffer.byteLength(payload.body)).toBeGreaterThan(APNS_MAX_PAYLOAD_BYTES - 100);
    expect(json.aps.alert.body.endsWith('…')).toBe(true);
    expect(json.gatehouse).toMatchObject({ notificationId: huge.id, type: 'security.event', tenantId: huge.tenantId, deepLink: 'gatehouse://security' });
  });

  it('drops optional data before the data a deep link needs', () => {
    const huge = notification('approval.requested', { data: { blob: 'x'.repeat(5000) } });
    const { payload, json } = apns(huge);
    expect(Buffer.byteLength(payload.body)).toBeLessThanOrEqual(APNS_MAX_PAYLOAD_BYTES);
    expect(json.gatehouse.blob).toBeUndefined();
    expect(json.gatehouse.commandId).toBe(huge.commandId);
    expect(json.aps.alert.body).toBe('factory_reset on front-door waits for your approval.');
  });

  it('refuses, with a typed error, what cannot fit at all', () => {
    try {
      buildApnsPayload(notification('device.event', { deviceName: 'd'.repeat(5000) }), 'en');
      expect.unreachable();
    } catch (error) {
      expect(hasCode(error, 'PAYLOAD_TOO_LARGE')).toBe(true);
    }
  });
});

describe('FCM payloads', () => {
  it.each(NOTIFICATION_TYPES.filter((t) => t !== 'approval.requested'))('%s: a notification message with a click action, data as strings', (type) => {
    const payload = buildFcmPayload(notification(type), 'de-AT');
    expect(payload.notification?.title).toBe(TITLES[type][1]);
    expect(payload.android.notification?.clickAction).toBe(payload.data.deepLink);
    expect(payload.android.notification?.tag).toBe('0195f3a0-0000-7000-8000-00000000000a');
    for (const value of Object.values(payload.data)) expect(typeof value).toBe('string');
  });

  it('makes approvals data-only with approve/deny, their labels in the locale, and the command id', () => {
    const payload = buildFcmPayload(notification('approval.requested'), 'de');
    expect(payload.notification).toBeUndefined();
    expect(payload.android.priority).toBe('high');
    expect(payload.data).toMatchObject({
      category: 'GATEHOUSE_APPROVAL', actions: 'approve,deny', approveLabel: 'Freigeben', denyLabel: 'Ablehnen',
      title: 'Freigabe erforderlich', commandId: '0195f3a0-0000-7000-8000-0000000000c2', deepLink: 'gatehouse://commands/0195f3a0-0000-7000-8000-0000000000c2',
    });
  });

  it('shortens a huge body to fit 4096 bytes', () => {
    const payload = buildFcmPayload(notification('security.event', { kind: '漢'.repeat(5000), deviceName: undefined, commandId: undefined }), 'en');
    const size = Buffer.byteLength(JSON.stringify({ data: payload.data, notification: payload.notification, android: payload.android.notification }));
    expect(size).toBeLessThanOrEqual(FCM_MAX_PAYLOAD_BYTES);
    expect(payload.notification?.body.endsWith('…')).toBe(true);
    expect(payload.data.deepLink).toBe('gatehouse://security');
  });

  it('keeps normal priority and a longer TTL for plain events', () => {
    const payload = buildFcmPayload(notification('device.event'), undefined);
    expect(payload.android).toMatchObject({ priority: 'normal', ttlMs: 6 * 3600_000 });
  });
});

describe('buildPayload', () => {
  it('builds for the token platform, with a null locale in English', () => {
    expect(buildPayload(notification('pin.locked'), 'ios', null).platform).toBe('ios');
    const android = buildPayload(notification('pin.locked'), 'android', null);
    expect(android.platform === 'android' && android.notification?.title).toBe('Voice PIN locked');
  });
});
