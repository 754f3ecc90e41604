import { THERMOSTAT_MODES } from '../../core/capabilities/climate.js';
import type { Property } from './messages.js';

/**
 * One Alexa interface per catalogue capability (Home Assistant's
 * alexa/capabilities.py): how it is announced in Discovery and which state
 * properties it reports. Pure: the state comes from the core's batch read.
 * `proactivelyReported` is false here; Discovery sets it for a person who
 * granted Alexa events (discovery.ts), as only they get ChangeReports.
 */
export type InterfaceSpec = {
  /** The catalogue capability it stands for. */
  capability: string;
  /** Discovery's entries for it (a capability may be several instances). */
  discovery: Record<string, unknown>[];
  /** Its properties, from the fields the core read (`reported`). */
  properties(reported: Record<string, unknown>, at: string): Property[];
};

const property = (namespace: string, name: string, value: unknown, at: string, instance?: string): Property =>
  ({ namespace, ...(instance ? { instance } : {}), name, value, timeOfSample: at, uncertaintyInMilliseconds: 0 });

const iface = (name: string, props: string[], extra: Record<string, unknown> = {}) => ({
  type: 'AlexaInterface', interface: name, version: '3',
  ...(props.length ? { properties: { supported: props.map((p) => ({ name: p })), proactivelyReported: false, retrievable: true } } : {}),
  ...extra,
});

/** Alexa's friendly names for a RangeController instance (its asset catalogue ids). */
const range = (instance: string, assets: string[], extra: Record<string, unknown> = {}) =>
  iface('Alexa.RangeController', ['rangeValue'], {
    instance,
    capabilityResources: { friendlyNames: assets.map((assetId) => ({ '@type': 'asset', value: { assetId } })) },
    configuration: { supportedRange: { minimumValue: 0, maximumValue: 100, precision: 1 }, unitOfMeasure: 'Alexa.Unit.Percent' },
    ...extra,
  });

export const ARM_STATES: Record<string, string> = { disarmed: 'DISARMED', home: 'ARMED_STAY', away: 'ARMED_AWAY', night: 'ARMED_NIGHT' };
export const THERMOSTAT_MODE: Record<string, string> = { off: 'OFF', heat: 'HEAT', cool: 'COOL', auto: 'AUTO', eco: 'ECO', fan_only: 'CUSTOM' };
export const POSITION = 'Gatehouse.Position';
export const FAN_SPEED = 'Gatehouse.FanSpeed';

const has = (reported: Record<string, unknown>, field: string) => Object.hasOwn(reported, field);

export const INTERFACES: InterfaceSpec[] = [
  {
    capability: 'power', discovery: [iface('Alexa.PowerController', ['powerState'])],
    properties: (r, at) => (has(r, 'on') ? [property('Alexa.PowerController', 'powerState', r.on ? 'ON' : 'OFF', at)] : []),
  },
  {
    capability: 'brightness', discovery: [iface('Alexa.BrightnessController', ['brightness'])],
    properties: (r, at) => (has(r, 'brightness') ? [property('Alexa.BrightnessController', 'brightness', r.brightness, at)] : []),
  },
  {
    capability: 'color_temperature', discovery: [iface('Alexa.ColorTemperatureController', ['colorTemperatureInKelvin'])],
    properties: (r, at) => (has(r, 'color_temperature') ? [property('Alexa.ColorTemperatureController', 'colorTemperatureInKelvin', r.color_temperature, at)] : []),
  },
  {
    capability: 'lock', discovery: [iface('Alexa.LockController', ['lockState'])],
    properties: (r, at) => (has(r, 'locked') || r.jammed === true
      ? [property('Alexa.LockController', 'lockState', r.jammed === true ? 'JAMMED' : r.locked ? 'LOCKED' : 'UNLOCKED', at)] : []),
  },
  {
    capability: 'open_close', discovery: [range(POSITION, ['Alexa.Setting.Opening'], {
      semantics: {
        actionMappings: [
          { '@type': 'ActionsToDirective', actions: ['Alexa.Actions.Close'], directive: { name: 'SetRangeValue', payload: { rangeValue: 0 } } },
          { '@type': 'ActionsToDirective', actions: ['Alexa.Actions.Open'], directive: { name: 'SetRangeValue', payload: { rangeValue: 100 } } },
        ],
        stateMappings: [
          { '@type': 'StatesToValue', states: ['Alexa.States.Closed'], value: 0 },
          { '@type': 'StatesToRange', states: ['Alexa.States.Open'], range: { minimumValue: 1, maximumValue: 100 } },
        ],
      },
    })],
    properties: (r, at) => (has(r, 'position') ? [property('Alexa.RangeController', 'rangeValue', r.position, at, POSITION)] : []),
  },
  {
    capability: 'fan_speed', discovery: [range(FAN_SPEED, ['Alexa.Setting.FanSpeed'])],
    properties: (r, at) => (has(r, 'fan_speed') ? [property('Alexa.RangeController', 'rangeValue', r.fan_speed, at, FAN_SPEED)] : []),
  },
  {
    capability: 'thermostat',
    discovery: [iface('Alexa.ThermostatController', ['targetSetpoint', 'thermostatMode'], {
      configuration: { supportedModes: [...new Set(THERMOSTAT_MODES.map((m) => THERMOSTAT_MODE[m]!))].filter((m) => m !== 'CUSTOM'), supportsScheduling: false },
    })],
    properties: (r, at) => [
      ...(has(r, 'setpoint') ? [property('Alexa.ThermostatController', 'targetSetpoint', { value: r.setpoint, scale: 'CELSIUS' }, at)] : []),
      ...(has(r, 'mode') && r.mode !== 'fan_only' ? [property('Alexa.ThermostatController', 'thermostatMode', THERMOSTAT_MODE[r.mode as string], at)] : []),
    ],
  },
  {
    capability: 'arm_disarm',
    discovery: [iface('Alexa.SecurityPanelController', ['armState'], {
      configuration: { supportedArmStates: Object.values(ARM_STATES).map((value) => ({ value })), supportedAuthorizationTypes: [{ type: 'FOUR_DIGIT_PIN' }] },
    })],
    properties: (r, at) => (has(r, 'arm_mode') ? [property('Alexa.SecurityPanelController', 'armState', ARM_STATES[r.arm_mode as string], at)] : []),
  },
  {
    capability: 'scene', discovery: [{ type: 'AlexaInterface', interface: 'Alexa.SceneController', version: '3', supportsDeactivation: true }],
    properties: () => [],
  },
  {
    capability: 'temperature', discovery: [iface('Alexa.TemperatureSensor', ['temperature'])],
    properties: (r, at) => (has(r, 'temperature') ? [property('Alexa.TemperatureSensor', 'temperature', { value: r.temperature, scale: 'CELSIUS' }, at)] : []),
  },
  {
    capability: 'contact', discovery: [iface('Alexa.ContactSensor', ['detectionState'])],
    properties: (r, at) => (has(r, 'contact') ? [property('Alexa.ContactSensor', 'detectionState', r.contact === 'open' ? 'DETECTED' : 'NOT_DETECTED', at)] : []),
  },
  {
    capability: 'motion', discovery: [iface('Alexa.MotionSensor', ['detectionState'])],
    properties: (r, at) => (has(r, 'motion') ? [property('Alexa.MotionSensor', 'detectionState', r.motion ? 'DETECTED' : 'NOT_DETECTED', at)] : []),
  },
];

/** Every endpoint: the Alexa interface itself and its health, read from the device's presence. */
export const ALWAYS = [iface('Alexa', []), iface('Alexa.EndpointHealth', ['connectivity'])];

export function healthProperty(online: boolean, at: string): Property {
  return property('Alexa.EndpointHealth', 'connectivity', { value: online ? 'OK' : 'UNREACHABLE' }, at);
}

export function interfacesOf(capabilities: readonly string[]): InterfaceSpec[] {
  return INTERFACES.filter((spec) => capabilities.includes(spec.capability));
}
