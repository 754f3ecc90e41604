import { describe, expect, it } from 'vitest';
import { CAPABILITY_NAMES, catalogueCommand } from '../../src/core/capabilities/catalogue.js';
import { checkParams } from '../../src/core/capabilities/command-params.js';
import { GatewayError } from '../../src/core/errors.js';
import { googleType } from '../../src/voice/google/device-types.js';
import { googleOutcome } from '../../src/voice/google/error-codes.js';
import { statesOf, traitsFor, translate, TRAITS } from '../../src/voice/google/traits/registry.js';

const all = () => true;

/** Google EXECUTE commands with params as Google's trait pages show them, and the core command each must become. */
const EXAMPLES: [string[], string, Record<string, unknown>, { name: string; params: Record<string, unknown> }][] = [
  [['power'], 'action.devices.commands.OnOff', { on: true }, { name: 'turn_on', params: {} }],
  [['power'], 'action.devices.commands.OnOff', { on: false }, { name: 'turn_off', params: {} }],
  [['brightness'], 'action.devices.commands.BrightnessAbsolute', { brightness: 65 }, { name: 'set_brightness', params: { brightness: 65 } }],
  [['color_temperature'], 'action.devices.commands.ColorAbsolute', { color: { name: 'warm white', temperature: 2700 } }, { name: 'set_color_temperature', params: { kelvin: 2700 } }],
  [['scene'], 'action.devices.commands.ActivateScene', { deactivate: false }, { name: 'activate_scene', params: {} }],
  [['scene'], 'action.devices.commands.ActivateScene', { deactivate: true }, { name: 'deactivate_scene', params: {} }],
  [['lock'], 'action.devices.commands.LockUnlock', { lock: false, followUpToken: 'x' }, { name: 'unlock', params: {} }],
  [['open_close'], 'action.devices.commands.OpenClose', { openPercent: 100 }, { name: 'open', params: {} }],
  [['open_close'], 'action.devices.commands.OpenClose', { openPercent: 0 }, { name: 'close', params: {} }],
  [['open_close'], 'action.devices.commands.OpenClose', { openPercent: 40 }, { name: 'set_position', params: { position: 40 } }],
  [['arm_disarm'], 'action.devices.commands.ArmDisarm', { arm: true, armLevel: 'night' }, { name: 'arm', params: { mode: 'night' } }],
  [['arm_disarm'], 'action.devices.commands.ArmDisarm', { arm: false }, { name: 'disarm', params: {} }],
  [['thermostat'], 'action.devices.commands.ThermostatTemperatureSetpoint', { thermostatTemperatureSetpoint: 22 }, { name: 'set_setpoint', params: { celsius: 22 } }],
  [['thermostat'], 'action.devices.commands.ThermostatSetMode', { thermostatMode: 'fan-only' }, { name: 'set_mode', params: { mode: 'fan_only' } }],
  [['fan_speed'], 'action.devices.commands.SetFanSpeed', { fanSpeedPercent: 50 }, { name: 'set_fan_speed', params: { speed: 50 } }],
];

describe('Google traits over the capability catalogue', () => {
  it('maps each trait to a capability of the catalogue, and each command to one of that capability with valid params', () => {
    for (const trait of TRAITS) expect(CAPABILITY_NAMES).toContain(trait.capability);
    for (const [capabilities, command, params, core] of EXAMPLES) {
      const translated = translate(traitsFor(capabilities, all), command, params);
      expect(translated?.core, command).toEqual(core);
      expect(catalogueCommand(core.name)?.capability).toBe(translated!.trait.capability);
      expect(() => checkParams(core.name, catalogueCommand(core.name)!.params, core.params)).not.toThrow();
    }
  });

  it('shows every capability Google has a trait for; leaves the rest (restart, critical ones, motion) to the other channels', () => {
    const shown = new Set(TRAITS.map((trait) => trait.capability));
    expect(CAPABILITY_NAMES.filter((name) => !shown.has(name)).sort()).toEqual(['factory_reset', 'motion', 'restart', 'update_firmware']);
  });

  it('exposes only what the policy lets through, and a thermostat\'s temperature as its ambient, not a second trait', () => {
    expect(traitsFor(['power', 'brightness'], (capability) => capability !== 'brightness').map((trait) => trait.name)).toEqual(['action.devices.traits.OnOff']);
    const thermostat = traitsFor(['thermostat', 'temperature'], all);
    expect(thermostat.map((trait) => trait.name)).toEqual(['action.devices.traits.TemperatureSetting']);
    expect(statesOf(thermostat, { setpoint: 20, mode: 'fan_only', temperature: 18 }, ['thermostat', 'temperature']))
      .toEqual({ thermostatTemperatureSetpoint: 20, thermostatMode: 'fan-only', thermostatTemperatureAmbient: 18 });
    expect(statesOf(traitsFor(['contact'], all), { contact: 'open' }, ['contact'])).toEqual({ openPercent: 100 });
    expect(statesOf(traitsFor(['battery'], all), { battery: 5 }, ['battery'])).toEqual({ descriptiveCapacityRemaining: 'CRITICALLY_LOW', capacityRemaining: [{ rawValue: 5, unit: 'PERCENTAGE' }] });
  });

  it('names a device of type other by what it does', () => {
    expect(googleType('other', traitsFor(['scene'], all))).toBe('action.devices.types.SCENE');
    expect(googleType('other', traitsFor(['power', 'battery'], all))).toBe('action.devices.types.SWITCH');
    expect(googleType('other', traitsFor(['temperature'], all))).toBe('action.devices.types.SENSOR');
    expect(googleType('garage', traitsFor(['open_close'], all))).toBe('action.devices.types.GARAGE');
  });

  it('translates the core\'s errors into Google\'s codes in one table, two-factor included', () => {
    const outcome = (code: ConstructorParameters<typeof GatewayError>[0], details: Record<string, unknown> = {}) => googleOutcome(new GatewayError(code, 'x', details));
    expect(outcome('PIN_REQUIRED', { pinSet: true })).toEqual({ status: 'ERROR', errorCode: 'challengeNeeded', challengeNeeded: { type: 'pinNeeded' } });
    expect(outcome('PIN_REQUIRED', { pinSet: false })).toEqual({ status: 'ERROR', errorCode: 'challengeFailedNotSetup' });
    expect(outcome('PIN_INVALID')).toEqual({ status: 'ERROR', errorCode: 'challengeNeeded', challengeNeeded: { type: 'challengeFailedPinNeeded' } });
    expect(outcome('PIN_LOCKED')).toEqual({ status: 'ERROR', errorCode: 'tooManyFailedAttempts' });
    expect(outcome('DEVICE_OFFLINE')).toEqual({ status: 'OFFLINE', errorCode: 'deviceOffline' });
    expect(outcome('COMMAND_TIMEOUT')).toEqual({ status: 'PENDING' });
    expect(outcome('DEVICE_NOT_FOUND')).toEqual({ status: 'ERROR', errorCode: 'deviceNotFound' });
    expect(outcome('VALIDATION_FAILED')).toEqual({ status: 'ERROR', errorCode: 'valueOutOfRange' });
    expect(outcome('DATABASE_UNAVAILABLE')).toEqual({ status: 'ERROR', errorCode: 'transientError' });
  });
});
