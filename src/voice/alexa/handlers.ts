import { ARM_STATES, FAN_SPEED, POSITION, THERMOSTAT_MODE } from './capabilities.js';
import { discover } from './discovery.js';
import { AlexaError } from './errors.js';
import { command, endpointDevice, propertiesOf, type HandlerContext } from './handler-context.js';
import type { Reply } from './messages.js';
import { activateScene, isSceneEndpoint } from './scenes.js';

export type Handler = (h: HandlerContext) => Promise<Reply>;

/** Directive handlers by (namespace, name), as Home Assistant's alexa/handlers.py registers them. */
const HANDLERS = new Map<string, Handler>();
function register(namespace: string, name: string, handler: Handler): void {
  HANDLERS.set(`${namespace}/${name}`, handler);
}
export function handlerFor(namespace: string, name: string): Handler | undefined {
  return HANDLERS.get(`${namespace}/${name}`);
}

const payload = (h: HandlerContext) => h.directive.payload as Record<string, unknown>;
const number = (value: unknown, field: string): number => {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new AlexaError('INVALID_VALUE', `${field} must be a number.`);
  return value;
};
const clamp = (value: number) => Math.max(0, Math.min(100, Math.round(value)));

// Alexa sends AcceptGrant before the first Discovery: a person with a grant gets ChangeReports, so proactivelyReported.
register('Alexa.Discovery', 'Discover', async (h) => ({
  namespace: 'Alexa.Discovery', name: 'Discover.Response', withoutEndpoint: true,
  payload: { endpoints: await discover(h.core, h.ctx, (await h.grants?.has(h.ctx, h.skillId)) ?? false) },
}));

// https://developer.amazon.com/docs/device-apis/alexa-authorization.html: the code for LWA tokens, kept for events.
register('Alexa.Authorization', 'AcceptGrant', async (h) => {
  const grant = payload(h).grant as { type?: unknown; code?: unknown } | undefined;
  if (grant?.type !== 'OAuth2.AuthorizationCode' || typeof grant.code !== 'string') throw new AlexaError('ACCEPT_GRANT_FAILED', 'The grant carries no authorization code.');
  if (!h.grants) throw new AlexaError('ACCEPT_GRANT_FAILED', 'This gateway sends no Alexa events.');
  await h.grants.accept(h.ctx, h.skillId, h.sessionId, grant.code);
  return { namespace: 'Alexa.Authorization', name: 'AcceptGrant.Response', withoutEndpoint: true, payload: {} };
});

register('Alexa', 'ReportState', async (h) => {
  const device = await endpointDevice(h);
  // https://developer.amazon.com/docs/smarthome/state-reporting-for-a-smart-home-skill.html: unreachable, not a stale report.
  if (!device.online) throw new AlexaError('ENDPOINT_UNREACHABLE', 'The device is offline.');
  return { name: 'StateReport', properties: propertiesOf(device, device.reported, (device.stateUpdatedAt ?? new Date()).toISOString()) };
});

register('Alexa.PowerController', 'TurnOn', (h) => command(h, 'turn_on', {}, { on: true }));
register('Alexa.PowerController', 'TurnOff', (h) => command(h, 'turn_off', {}, { on: false }));

register('Alexa.BrightnessController', 'SetBrightness', (h) => {
  const brightness = clamp(number(payload(h).brightness, 'brightness'));
  return command(h, 'set_brightness', { brightness }, { brightness, on: brightness > 0 });
});
register('Alexa.BrightnessController', 'AdjustBrightness', async (h) => {
  const current = (await endpointDevice(h)).reported.brightness;
  const brightness = clamp((typeof current === 'number' ? current : 0) + number(payload(h).brightnessDelta, 'brightnessDelta'));
  return command(h, 'set_brightness', { brightness }, { brightness });
});

register('Alexa.ColorTemperatureController', 'SetColorTemperature', (h) => {
  const kelvin = number(payload(h).colorTemperatureInKelvin, 'colorTemperatureInKelvin');
  if (kelvin < 1000 || kelvin > 10000) throw new AlexaError('VALUE_OUT_OF_RANGE', 'Colour temperature must be 1000..10000 K.', 'Alexa', { validRange: { minimumValue: 1000, maximumValue: 10000 } });
  return command(h, 'set_color_temperature', { kelvin: Math.round(kelvin) }, { color_temperature: Math.round(kelvin) });
});

register('Alexa.LockController', 'Lock', (h) => command(h, 'lock', {}, { locked: true, jammed: false }));
// No PIN of ours: Alexa asked its own voice code (DESIGN.md §5). The core's gate lets that stand in for the PIN only
// where the tenant's voice policy says so (platformVoiceCode); otherwise PIN_REQUIRED, answered INSUFFICIENT_PERMISSIONS.
register('Alexa.LockController', 'Unlock', (h) => command(h, 'unlock', {}, { locked: false, jammed: false }, { platformVoiceCode: true }));

register('Alexa.RangeController', 'SetRangeValue', (h) => {
  const value = clamp(number(payload(h).rangeValue, 'rangeValue'));
  if (h.directive.header.instance === FAN_SPEED) return command(h, 'set_fan_speed', { speed: value }, { fan_speed: value });
  if (h.directive.header.instance !== POSITION) throw new AlexaError('INVALID_DIRECTIVE', `Unknown instance ${String(h.directive.header.instance)}.`);
  // Closing is a normal command; any opening is as sensitive as `open` (the catalogue's set_position).
  return value === 0 ? command(h, 'close', {}, { position: 0 }) : command(h, 'set_position', { position: value }, { position: value });
});

const FROM_MODE = Object.fromEntries(Object.entries(THERMOSTAT_MODE).map(([ours, theirs]) => [theirs, ours]));
register('Alexa.ThermostatController', 'SetTargetTemperature', (h) => {
  const target = payload(h).targetSetpoint as { value?: unknown; scale?: string } | undefined;
  if (!target) throw new AlexaError('INVALID_VALUE', 'Only a single setpoint is supported.');
  const value = number(target.value, 'targetSetpoint.value');
  const celsius = Math.round((target.scale === 'FAHRENHEIT' ? (value - 32) * 5 / 9 : target.scale === 'KELVIN' ? value - 273.15 : value) * 10) / 10;
  if (celsius < 5 || celsius > 35) {
    throw new AlexaError('TEMPERATURE_VALUE_OUT_OF_RANGE', 'The setpoint must be 5..35 °C.', 'Alexa', { validRange: { minimumValue: { value: 5, scale: 'CELSIUS' }, maximumValue: { value: 35, scale: 'CELSIUS' } } });
  }
  return command(h, 'set_setpoint', { celsius }, { setpoint: celsius });
});
register('Alexa.ThermostatController', 'SetThermostatMode', (h) => {
  const mode = FROM_MODE[String((payload(h).thermostatMode as { value?: unknown } | undefined)?.value)];
  if (!mode || mode === 'fan_only') throw new AlexaError('INVALID_VALUE', 'Unsupported thermostat mode.');
  return command(h, 'set_mode', { mode }, { mode });
});

const FROM_ARM = Object.fromEntries(Object.entries(ARM_STATES).map(([ours, theirs]) => [theirs, ours]));
register('Alexa.SecurityPanelController', 'Arm', (h) => {
  const mode = FROM_ARM[String(payload(h).armState)];
  if (!mode || mode === 'disarmed') throw new AlexaError('INVALID_VALUE', 'Unsupported arm state.');
  return command(h, 'arm', { mode }, { arm_mode: mode }, { namespace: 'Alexa.SecurityPanelController', name: 'Arm.Response', payload: { exitDelayInSeconds: 0 } });
});
// The PIN Alexa collected (payload.authorization FOUR_DIGIT_PIN) goes to the core's PIN gate; never logged.
register('Alexa.SecurityPanelController', 'Disarm', (h) => {
  const authorization = payload(h).authorization as { type?: string; value?: unknown } | undefined;
  const pin = authorization?.type === 'FOUR_DIGIT_PIN' && typeof authorization.value === 'string' ? authorization.value : undefined;
  return command(h, 'disarm', {}, { arm_mode: 'disarmed' }, { pin });
});

/** https://developer.amazon.com/docs/device-apis/alexa-scenecontroller.html: ActivationStarted, with the cause. */
const sceneEvent = (name: string) => async (h: HandlerContext): Promise<Reply> => {
  await command(h, name === 'ActivationStarted' ? 'activate_scene' : 'deactivate_scene', {}, {});
  return { namespace: 'Alexa.SceneController', name, payload: { cause: { type: 'VOICE_INTERACTION' }, timestamp: new Date().toISOString() }, properties: [] };
};
register('Alexa.SceneController', 'Activate', (h) => {
  const id = h.directive.endpoint?.endpointId;
  return isSceneEndpoint(id) ? activateScene(h, id) : sceneEvent('ActivationStarted')(h);
});
register('Alexa.SceneController', 'Deactivate', sceneEvent('DeactivationStarted'));
