import { describe, expect, it } from 'vitest';
import type { DeviceStateView } from '../../src/core/devices/device-registry.js';
import { changeReport } from '../../src/voice/alexa/change-reports.js';
import { alexaMessageErrors } from '../support/alexa-schema.js';

const AT = '2026-12-03T15:00:00.000Z';
const lamp = (reported: Record<string, unknown>, online = true): DeviceStateView => ({
  id: '0190f3a4-7c1e-7000-8000-000000000002', name: 'lamp', type: 'light', online, lastSeenAt: null, displayName: 'Lamp', nicknames: [], room: null,
  state: reported, stateUpdatedAt: new Date(AT), reported, capabilities: ['brightness', 'power'],
});
const ANNOUNCED = new Set(['Alexa', 'Alexa.EndpointHealth', 'Alexa.PowerController', 'Alexa.BrightnessController']);
type Change = { cause: { type: string }; properties: { namespace: string; name: string; value: unknown; uncertaintyInMilliseconds: number }[] };

describe('Alexa.ChangeReport from a coalesced state report', () => {
  it('puts what changed in payload.change and the rest in context, valid by Amazon\'s schema, with the token in the endpoint scope', () => {
    const report = changeReport({ device: lamp({ on: true, brightness: 70 }), report: { deviceId: 'x', state: { brightness: 70, colour: 'ignored' } }, cause: 'PHYSICAL_INTERACTION', interfaces: ANNOUNCED }, 'Atza|t', AT, 1000)!;
    expect(alexaMessageErrors(report)).toBeUndefined();
    expect(report.event.endpoint).toEqual({ endpointId: lamp({}).id, scope: { type: 'BearerToken', token: 'Atza|t' } });
    const change = report.event.payload.change as Change;
    expect(change.cause).toEqual({ type: 'PHYSICAL_INTERACTION' });
    expect(change.properties).toEqual([expect.objectContaining({ namespace: 'Alexa.BrightnessController', name: 'brightness', value: 70, uncertaintyInMilliseconds: 1000, timeOfSample: AT })]);
    expect(report.context!.properties.map((p) => p.name).sort()).toEqual(['connectivity', 'powerState']);
  });

  it('reports presence as EndpointHealth.connectivity, and nothing for a field Alexa does not know or an interface Discovery did not announce', () => {
    const offline = changeReport({ device: lamp({ on: true }, false), report: { deviceId: 'x', state: {}, online: false }, cause: 'PHYSICAL_INTERACTION', interfaces: ANNOUNCED }, 't', AT, 0)!;
    expect(alexaMessageErrors(offline)).toBeUndefined();
    expect((offline.event.payload.change as Change).properties).toEqual([expect.objectContaining({ name: 'connectivity', value: { value: 'UNREACHABLE' } })]);
    expect(changeReport({ device: lamp({}), report: { deviceId: 'x', state: { colour: 'red' } }, cause: 'APP_INTERACTION', interfaces: ANNOUNCED }, 't', AT, 0)).toBeUndefined();
    const withoutPower = new Set([...ANNOUNCED].filter((i) => i !== 'Alexa.PowerController'));
    expect(changeReport({ device: lamp({}), report: { deviceId: 'x', state: { on: false } }, cause: 'APP_INTERACTION', interfaces: withoutPower }, 't', AT, 0)).toBeUndefined();
  });
});
