import { describe, expect, it } from 'vitest';
import { FLEET_EVENTS, LocalEventBus, type EventChannel, type EventName } from '../../src/core/event-bus.js';

const revoked = { tenantId: 't', deviceId: 'd' };

describe('LocalEventBus', () => {
  it('removes every listener of an owner at once, and only those', () => {
    const bus = new LocalEventBus();
    const heard: string[] = [];
    const adapter = {};
    bus.on('device.access.revoked', () => heard.push('adapter: revoked'), adapter);
    bus.on('device.removed', () => heard.push('adapter: removed'), adapter);
    bus.on('device.access.revoked', () => heard.push('other'));
    bus.removeOwner(adapter);
    bus.emit('device.access.revoked', revoked);
    bus.emit('device.removed', { ...revoked, deviceName: 'n' });
    expect(heard).toEqual(['other']);
  });

  it('keeps delivering to the others when a listener throws, and reports the failure', () => {
    const failures: unknown[] = [];
    const bus = new LocalEventBus((event, error) => failures.push([event, (error as Error).message]));
    const heard: string[] = [];
    bus.on('device.access.revoked', () => {
      throw new Error('boom');
    });
    bus.on('device.access.revoked', (payload) => heard.push(payload.deviceId));
    bus.emit('device.access.revoked', revoked);
    expect(heard).toEqual(['d']);
    expect(failures).toEqual([['device.access.revoked', 'boom']]);
  });

  it('returns an unsubscribe for one listener', () => {
    const bus = new LocalEventBus();
    const heard: string[] = [];
    const off = bus.on('device.access.revoked', () => heard.push('x'));
    off();
    bus.emit('device.access.revoked', revoked);
    expect(heard).toEqual([]);
  });

  it('with a channel: sends what it carries (the fleet-wide events, between nodes), keeps the others here, and lets its listeners hear theirs', () => {
    const sent: EventName[] = [];
    let fromOthers: Parameters<EventChannel['receive']>[0] | undefined;
    const bus = new LocalEventBus(undefined, { carries: (event) => FLEET_EVENTS.has(event), send: (event) => sent.push(event), receive: (deliver) => (fromOthers = deliver) });
    const heard: string[] = [];
    bus.on('device.access.revoked', ({ deviceId }) => heard.push(`revoked ${deviceId}`));
    bus.on('device.state.changed', ({ deviceId }) => heard.push(`state ${deviceId}`));
    bus.emit('device.access.revoked', revoked);
    bus.emit('device.state.changed', { tenantId: 't', deviceId: 'd', state: {} });
    fromOthers!('device.access.revoked', { tenantId: 't', deviceId: 'elsewhere' });
    expect(sent).toEqual(['device.access.revoked']);
    expect(heard).toEqual(['revoked d', 'state d', 'revoked elsewhere']);
  });

  it('shares what a node cannot act on alone, and not command.issued (its MQTT publish crosses once, on the tenant\'s channel)', () => {
    expect([...FLEET_EVENTS].sort()).toEqual(['app.access.revoked', 'command.status.changed', 'device.access.revoked', 'member.access.changed']);
  });
});
