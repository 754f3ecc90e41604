import { describe, expect, it } from 'vitest';
import { LocalEventBus } from '../../src/core/event-bus.js';

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
});
