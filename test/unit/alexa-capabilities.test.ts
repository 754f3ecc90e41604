import { describe, expect, it } from 'vitest';
import { CAPABILITY_NAMES } from '../../src/core/capabilities/catalogue.js';
import type { DeviceStateView } from '../../src/core/devices/device-registry.js';
import { GatewayError } from '../../src/core/errors.js';
import { INTERFACES } from '../../src/voice/alexa/capabilities.js';
import { endpointOf } from '../../src/voice/alexa/discovery.js';
import { alexaErrorFor } from '../../src/voice/alexa/errors.js';
import { propertiesOf } from '../../src/voice/alexa/handler-context.js';
import { errorEvent, eventFor, type Directive } from '../../src/voice/alexa/messages.js';
import { alexaMessageErrors } from '../support/alexa-schema.js';

const ALL = INTERFACES.map((spec) => spec.capability);
const device = (capabilities: string[], reported: Record<string, unknown>, type: DeviceStateView['type'] = 'other'): DeviceStateView => ({
  id: '0190f3a4-7c1e-7000-8000-000000000001', name: 'thing.one', type, online: true, lastSeenAt: null, displayName: 'Thing', nicknames: [], room: 'Hall',
  state: reported, stateUpdatedAt: null, reported, capabilities,
});
const header = (namespace: string, name: string) => ({ namespace, name, payloadVersion: '3' as const, messageId: 'm-1', correlationToken: 'c-1' });
const directive = (namespace: string, name: string): Directive['directive'] => ({ header: header(namespace, name), endpoint: { endpointId: device([], {}).id }, payload: {} });

describe('Alexa interfaces from the capability catalogue', () => {
  it('the schema refuses what Alexa would (so the checks below mean something)', () => {
    const good = eventFor(directive('Alexa.PowerController', 'TurnOn'), { properties: [] });
    expect(alexaMessageErrors(good)).toBeUndefined();
    expect(alexaMessageErrors({ ...good, event: { ...good.event, header: { ...good.event.header, payloadVersion: '2' } } })).toBeDefined();
    expect(alexaMessageErrors(errorEvent(directive('Alexa', 'ReportState'), { type: 'NOT_A_TYPE', message: 'x' }))).toBeDefined();
    const property = propertiesOf(device(['power'], { on: true }), { on: true })[0]!;
    expect(alexaMessageErrors(eventFor(directive('Alexa', 'ReportState'), { name: 'StateReport', properties: [{ ...property, value: 'MAYBE' }] }))).toBeDefined();
  });

  it('names only catalogue capabilities', () => {
    for (const capability of ALL) expect(CAPABILITY_NAMES).toContain(capability);
  });

  it('a Discover.Response with every interface is valid by Amazon\'s schema', () => {
    const every = endpointOf(device(ALL, {}), new Set(ALL))!;
    const event = eventFor({ header: { ...header('Alexa.Discovery', 'Discover'), correlationToken: undefined }, payload: {} }, {
      namespace: 'Alexa.Discovery', name: 'Discover.Response', withoutEndpoint: true, payload: { endpoints: [every] },
    });
    expect(alexaMessageErrors(event)).toBeUndefined();
    expect((every.capabilities as unknown[]).length).toBe(ALL.length + 2);
  });

  it('leaves out what the voice policy does not enable, but never a sensor; a device with nothing left is no endpoint', () => {
    const listed = endpointOf(device(['power', 'lock', 'temperature'], {}), new Set(['power']))!;
    expect((listed.capabilities as { interface: string }[]).map((c) => c.interface).sort()).toEqual(['Alexa', 'Alexa.EndpointHealth', 'Alexa.PowerController', 'Alexa.TemperatureSensor']);
    expect(endpointOf(device(['lock', 'factory_reset'], {}), new Set())).toBeUndefined();
  });

  it('a StateReport with every property is valid by Amazon\'s schema', () => {
    const reported = { on: true, brightness: 40, color_temperature: 2700, locked: true, position: 30, fan_speed: 50, setpoint: 21.5, mode: 'heat', arm_mode: 'away', temperature: 19.2, contact: 'open', motion: false };
    const properties = propertiesOf(device(ALL, reported), reported);
    expect(properties.map((p) => p.name).sort()).toEqual(['armState', 'brightness', 'colorTemperatureInKelvin', 'connectivity', 'detectionState', 'detectionState', 'lockState', 'powerState', 'rangeValue', 'rangeValue', 'targetSetpoint', 'temperature', 'thermostatMode']);
    expect(alexaMessageErrors(eventFor(directive('Alexa', 'ReportState'), { name: 'StateReport', properties }))).toBeUndefined();
  });

  it('maps the core\'s codes through one table; what it does not know is INTERNAL_ERROR, never a credential error', () => {
    const panel = directive('Alexa.SecurityPanelController', 'Disarm');
    const power = directive('Alexa.PowerController', 'TurnOn');
    const type = (code: ConstructorParameters<typeof GatewayError>[0], d = power) => alexaErrorFor(new GatewayError(code), d);
    expect(type('DEVICE_NOT_FOUND').type).toBe('NO_SUCH_ENDPOINT');
    expect(type('DEVICE_OFFLINE').type).toBe('ENDPOINT_UNREACHABLE');
    expect(type('POLICY_DENIED').type).toBe('INSUFFICIENT_PERMISSIONS');
    expect(type('PIN_INVALID', panel)).toMatchObject({ namespace: 'Alexa.SecurityPanelController', type: 'UNAUTHORIZED' });
    expect(type('PIN_REQUIRED', panel)).toMatchObject({ namespace: 'Alexa.SecurityPanelController', type: 'AUTHORIZATION_REQUIRED' });
    expect(type('PIN_LOCKED', panel).type).toBe('TOO_MANY_FAILED_ATTEMPTS');
    for (const code of ['DATABASE_UNAVAILABLE', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'INTERNAL'] as const) expect(type(code).type).toBe('INTERNAL_ERROR');
    expect(alexaErrorFor(new Error('boom'), power).type).toBe('INTERNAL_ERROR');
    for (const [d, code] of [[panel, 'PIN_INVALID'], [panel, 'PIN_REQUIRED'], [power, 'PIN_LOCKED'], [power, 'DEVICE_OFFLINE']] as const) {
      const spec = alexaErrorFor(new GatewayError(code), d);
      expect(alexaMessageErrors(errorEvent(d, spec)), code).toBeUndefined();
    }
  });
});
