import { describe, expect, it } from 'vitest';
import { parseDeviceTopic } from '../../src/core/topics/device-topics.js';
import { appAcl, COMMAND_NAMESPACE, deviceAcl, userAcl } from '../../src/core/topics/topic-acl.js';
import { filterCovers, filterCoversLiterally, filtersOverlap, literalMatcher, topicMatches } from '../../src/core/topics/topic-match.js';

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

  it.each([
    ['#', '$SYS/#', true], ['+/x', '$SYS/x', true], ['devices/+/commands/#', 'devices/d1/commands/+', true],
    ['devices/+/commands/#', '#', false], ['devices/+/commands/#', 'devices/+/+/#', false], ['a/+', 'a/#', false],
  ])('literally, with no $ exception, %s covers %s: %s', (outer, inner, expected) => expect(filterCoversLiterally(outer, inner)).toBe(expected));

  it('a compiled matcher answers like the filters it was made of, $ topics included', () => {
    const matches = literalMatcher(['devices/+/commands/#', 'vault', 'x/+/never']);
    for (const yes of ['devices/d1/commands/c1', 'devices/d1/commands', 'devices/d1/commands/c1/result', 'devices//commands/x', 'vault']) expect(matches(yes), yes).toBe(true);
    for (const no of ['devices/d1/telemetry', 'devices/d1', 'vault/x', 'devices/d1/command/c1', '']) expect(matches(no), no).toBe(false);
    expect(literalMatcher(['#'])('$SYS/x')).toBe(true);
    expect(literalMatcher([])('a')).toBe(false);
  });
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

  it('a device whose credential may not publish telemetry (telemetry.publish) still reports command results', () => {
    const acl = deviceAcl('d1', false);
    expect(acl.canPublish('devices/d1/commands/7/result')).toBe(true);
    for (const no of ['devices/d1/telemetry', 'devices/d1/state', 'devices/d1/events/alarm']) expect(acl.canPublish(no), no).toBe(false);
  });

  it('an app gets its allow filters minus its deny filters, deny winning', () => {
    const acl = appAcl({ publish: ['ops/#'], subscribe: ['devices/#', 'vault/#', '$SYS/#'], denyPublish: ['ops/secret/#'], denySubscribe: ['vault/#'] });
    expect(acl.canPublish('ops/x')).toBe(true);
    expect(acl.canPublish('ops/secret/x')).toBe(false);
    expect(acl.canPublish('devices/a/telemetry')).toBe(false);
    expect(acl.canSubscribe('devices/+/telemetry')).toBe(true);
    expect(acl.canSubscribe('#')).toBe(false); // no allow filter covers it
    expect(acl.canSubscribe('vault/state')).toBe(false);
    expect(acl.canSubscribe('vault/#')).toBe(false);
    expect(acl.canSubscribe('$SYS/#')).toBe(true);
    const everything = appAcl({ publish: ['#'], subscribe: ['#'], denyPublish: [], denySubscribe: [] });
    expect(everything.canSubscribe('#')).toBe(true);
    expect(everything.canPublish('$SYS/fake')).toBe(false);
  });

  it('no app publishes in the command namespace, whatever its filters say; results stay the devices\'', () => {
    for (const publish of [['#'], ['devices/+/commands/#'], ['devices/door/commands/c1']]) {
      const acl = appAcl({ publish, subscribe: ['#'], denyPublish: [], denySubscribe: [] });
      for (const topic of ['devices/door/commands/c1', 'devices/door/commands/c1/result', 'devices/door/commands', 'devices/door/commands/c1/x/y']) {
        expect(acl.canPublish(topic), `${publish} → ${topic}`).toBe(false);
      }
    }
    const acl = appAcl({ publish: ['#'], subscribe: ['#'], denyPublish: [], denySubscribe: [] });
    for (const topic of ['devices/door/telemetry', 'devices/door/state', 'devices/door/command/c1', 'devices/commands/x', 'ops/devices/door/commands/c1']) expect(acl.canPublish(topic), topic).toBe(true);
    // An app may still watch commands and results when its filters allow it.
    expect(acl.canSubscribe(COMMAND_NAMESPACE)).toBe(true);
  });

  it('a deny filter refuses only subscriptions wholly inside it; overlapping ones are granted and the denied topics withheld', () => {
    const acl = appAcl({ publish: ['#'], subscribe: ['#'], denyPublish: [], denySubscribe: ['devices/+/commands/#'] });
    for (const granted of ['#', '+/+', 'devices/#', 'devices/+/+', 'devices/door/#', 'devices/+/+/+', 'devices/+/telemetry']) expect(acl.canSubscribe(granted), granted).toBe(true);
    for (const refused of ['devices/+/commands/#', 'devices/door/commands/#', 'devices/door/commands/+', 'devices/door/commands/c1', 'devices/+/commands']) expect(acl.canSubscribe(refused), refused).toBe(false);
    expect(acl.withheld).toBeDefined();
    for (const topic of ['devices/door/commands/c1', 'devices/door/commands/c1/result', 'devices/door/commands']) expect(acl.withheld!(topic), topic).toBe(true);
    for (const topic of ['devices/door/telemetry', 'devices/door/state', 'devices/door/events/ring', 'other']) expect(acl.withheld!(topic), topic).toBe(false);
    // A deny of everything still denies $SYS, as before.
    expect(appAcl({ publish: [], subscribe: ['#', '$SYS/#'], denyPublish: [], denySubscribe: ['#'] }).canSubscribe('$SYS/#')).toBe(false);
  });

  it('sessions without deny filters have nothing to ask per message', () => {
    expect(appAcl({ publish: ['#'], subscribe: ['#'], denyPublish: ['x'], denySubscribe: [] }).withheld).toBeUndefined();
    expect(deviceAcl('d1').withheld).toBeUndefined();
    expect(userAcl(true).withheld).toBeUndefined();
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
});
