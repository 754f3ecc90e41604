import { describe, expect, it } from 'vitest';
import { parseDeviceTopic } from '../../src/core/topics/device-topics.js';
import { appAcl, deviceAcl, isSharedSubscription, userAcl } from '../../src/core/topics/topic-acl.js';
import { filterCovers, filtersOverlap, topicMatches } from '../../src/core/topics/topic-match.js';

describe('topic matching [MQTT-4.7]', () => {
  it.each([
    ['#', 'a/b', true], ['a/#', 'a', true], ['a/+', 'a/b', true], ['a/+', 'a/b/c', false], ['+/+', 'a/b', true],
    ['a/b', 'a/b', true], ['a/b', 'a/c', false], ['#', '$SYS/x', false], ['+/x', '$SYS/x', false], ['$SYS/#', '$SYS/x', true],
  ])('%s matches %s: %s', (filter, topic, expected) => expect(topicMatches(filter, topic)).toBe(expected));

  it.each([
    ['#', 'a/+/c', true], ['a/#', 'a/b/#', true], ['a/+/c', 'a/b/c', true], ['a/b/c', 'a/+/c', false], ['a/+', 'a/#', false],
    ['a/+/#', 'a/b', true], ['devices/x/commands/#', 'devices/+/commands/#', false],
  ])('%s covers %s: %s', (outer, inner, expected) => expect(filterCovers(outer, inner)).toBe(expected));

  it.each([['a/#', 'a/b/c', true], ['a/+', 'a/b', true], ['a/b', 'a/c', false], ['+/x', 'y/+', true], ['a/b', 'a/b/c', false]])(
    '%s overlaps %s: %s', (a, b, expected) => expect(filtersOverlap(a, b)).toBe(expected),
  );
});

describe('device topics', () => {
  it('parses the contract', () => {
    expect(parseDeviceTopic('devices/d1/telemetry')).toEqual({ kind: 'telemetry', device: 'd1', stream: '' });
    expect(parseDeviceTopic('devices/d1/telemetry/power/l1')).toEqual({ kind: 'telemetry', device: 'd1', stream: 'power/l1' });
    expect(parseDeviceTopic('devices/d1/state')).toEqual({ kind: 'state', device: 'd1' });
    expect(parseDeviceTopic('devices/d1/events/door/open')).toEqual({ kind: 'event', device: 'd1', path: 'door/open' });
    expect(parseDeviceTopic('devices/d1/commands/c9')).toEqual({ kind: 'command', device: 'd1', commandId: 'c9' });
    expect(parseDeviceTopic('devices/d1/commands/c9/result')).toEqual({ kind: 'command-result', device: 'd1', commandId: 'c9' });
    for (const bad of ['devices', 'devices//telemetry', 'devices/d1/state/x', 'devices/d1/telemetry/', 'things/d1/telemetry', 'devices/d1/commands/c9/other']) {
      expect(parseDeviceTopic(bad), bad).toBeUndefined();
    }
  });
});

describe('ACLs', () => {
  it('a device touches only its own topics', () => {
    const acl = deviceAcl('d1');
    for (const ok of ['devices/d1/telemetry', 'devices/d1/telemetry/x', 'devices/d1/state', 'devices/d1/events', 'devices/d1/events/a/b', 'devices/d1/commands/7/result']) {
      expect(acl.canPublish(ok), ok).toBe(true);
    }
    for (const no of ['devices/d2/telemetry', 'devices/d1/commands/7', 'devices/d1/other', 'x', '$SYS/x', 'devices/d1/state/x']) {
      expect(acl.canPublish(no), no).toBe(false);
    }
    for (const ok of ['devices/d1/commands/#', 'devices/d1/commands/+', 'devices/d1/commands/7']) expect(acl.canSubscribe(ok), ok).toBe(true);
    for (const no of ['#', 'devices/+/commands/#', 'devices/d1/#', 'devices/d1/telemetry', '$SYS/#', 'devices/d2/commands/#']) expect(acl.canSubscribe(no), no).toBe(false);
  });

  it('an app gets its allow filters minus its deny filters, deny winning', () => {
    const acl = appAcl({ publish: ['devices/+/commands/#', 'ops/#'], subscribe: ['#'], denyPublish: ['ops/secret/#'], denySubscribe: ['vault/#'] });
    expect(acl.canPublish('ops/x')).toBe(true);
    expect(acl.canPublish('ops/secret/x')).toBe(false);
    expect(acl.canPublish('devices/a/telemetry')).toBe(false);
    expect(acl.canSubscribe('devices/+/telemetry')).toBe(true);
    expect(acl.canSubscribe('#')).toBe(false);
    expect(acl.canSubscribe('vault/state')).toBe(false);
    // A filter that could match a denied topic is refused whole: no per-message filtering to rely on.
    expect(acl.canSubscribe('+/state')).toBe(false);
    expect(acl.canSubscribe('$SYS/#')).toBe(true);
    const everything = appAcl({ publish: ['#'], subscribe: ['#'], denyPublish: [], denySubscribe: [] });
    expect(everything.canSubscribe('#')).toBe(true);
    expect(everything.canPublish('$SYS/fake')).toBe(false);
  });

  it('a user watches telemetry, state and events, and never publishes', () => {
    const acl = userAcl(true);
    expect(acl.canSubscribe('devices/+/telemetry')).toBe(true);
    expect(acl.canSubscribe('devices/d1/telemetry/#')).toBe(true);
    expect(acl.canSubscribe('devices/+/state')).toBe(true);
    expect(acl.canSubscribe('devices/+/events/#')).toBe(true);
    expect(acl.canSubscribe('devices/+/commands/#')).toBe(false);
    expect(acl.canSubscribe('#')).toBe(false);
    expect(acl.canPublish('devices/d1/commands/1')).toBe(false);
    expect(userAcl(false).canSubscribe('devices/+/state')).toBe(false);
  });

  it('recognises shared subscriptions', () => {
    expect(isSharedSubscription('$share/g/devices/#')).toBe(true);
    expect(isSharedSubscription('devices/#')).toBe(false);
  });
});
