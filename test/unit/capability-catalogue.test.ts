import { describe, expect, it } from 'vitest';
import type { CapabilityDefinition } from '../../src/core/capabilities/capability.js';
import { CAPABILITIES, CAPABILITY_NAMES, DEVICE_TYPES, allCommands, assertCapabilityName, assertDeviceType } from '../../src/core/capabilities/catalogue.js';
import { checkParams } from '../../src/core/capabilities/command-params.js';
import { checkCommandParams, resolveCommand, type DeviceCapability } from '../../src/core/capabilities/device-commands.js';
import { reportedState } from '../../src/core/capabilities/reported-state.js';
import { RISK_CLASSES, effectiveRisk, riskRank } from '../../src/core/capabilities/risk.js';
import { GatewayError } from '../../src/core/errors.js';

/** The GatewayError `fn` throws (the test fails when it throws nothing or something else). */
function refusal(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

/** Wrong parameters for every command, and the parameter the refusal must name. */
const WRONG: Record<string, [params: unknown, parameter: string][]> = {
  turn_on: [[{ on: true }, 'on']],
  turn_off: [[{ delay: 5 }, 'delay']],
  set_brightness: [[{ brightness: 101 }, 'brightness'], [{ brightness: -1 }, 'brightness'], [{ brightness: '50' }, 'brightness'], [{ brightness: 50.5 }, 'brightness'], [{}, 'brightness']],
  set_color_temperature: [[{ kelvin: 500 }, 'kelvin'], [{ kelvin: 2700, brightness: 3 }, 'brightness']],
  activate_scene: [[{ scene: 'evening' }, 'scene']],
  deactivate_scene: [[{ scene: 'evening' }, 'scene']],
  lock: [[{ code: '1234' }, 'code']],
  // The PIN travels beside the command (CommandRequest.pin), never inside its params.
  unlock: [[{ pin: '1234' }, 'pin']],
  open: [[{ position: 50 }, 'position']],
  close: [[{ force: true }, 'force']],
  set_position: [[{ position: 101 }, 'position'], [{ position: 'half' }, 'position'], [{}, 'position']],
  stop: [[{ now: true }, 'now']],
  arm: [[{ mode: 'vacation' }, 'mode'], [{}, 'mode']],
  disarm: [[{ code: 1234 }, 'code']],
  set_setpoint: [[{ celsius: 80 }, 'celsius'], [{ celsius: 'warm' }, 'celsius'], [{}, 'celsius']],
  set_mode: [[{ mode: 'turbo' }, 'mode']],
  set_fan_speed: [[{ speed: 150 }, 'speed'], [{ speed: 1.5 }, 'speed']],
  restart: [[{ delay_seconds: -5 }, 'delay_seconds'], [{ delay_seconds: 7200 }, 'delay_seconds']],
  factory_reset: [[{ confirm: true }, 'confirm']],
  update_firmware: [[{}, 'version'], [{ version: '' }, 'version'], [{ version: '2.4.1', url: 'http://firmware.example.com/x.bin' }, 'url']],
};

const SENSITIVE = ['unlock', 'open', 'set_position', 'disarm'];
const CRITICAL = ['factory_reset', 'update_firmware'];

describe('the capability catalogue', () => {
  it('has every capability and device type the gateway promises', () => {
    expect(CAPABILITY_NAMES.sort()).toEqual([
      'arm_disarm', 'battery', 'brightness', 'color_temperature', 'contact', 'factory_reset', 'fan_speed', 'humidity', 'lock', 'motion',
      'open_close', 'power', 'restart', 'scene', 'temperature', 'thermostat', 'update_firmware',
    ]);
    expect([...DEVICE_TYPES].sort()).toEqual(['blinds', 'fan', 'garage', 'light', 'lock', 'other', 'outlet', 'security_panel', 'sensor', 'switch', 'thermostat']);
  });

  it('names each command and each state field once, so a name says which capability it belongs to', () => {
    const commands = CAPABILITY_NAMES.flatMap((name) => Object.keys((CAPABILITIES[name] as CapabilityDefinition).commands));
    const fields = CAPABILITY_NAMES.flatMap((name) => Object.keys((CAPABILITIES[name] as CapabilityDefinition).state));
    expect(new Set(commands).size).toBe(commands.length);
    expect(new Set(fields).size).toBe(fields.length);
    expect(allCommands().find((c) => c.name === 'unlock')?.capability).toBe('lock');
  });

  it('accepts every documented example of every command', () => {
    for (const command of allCommands()) {
      const examples = (command.params as { examples?: unknown[] }).examples;
      expect(examples, command.name).toEqual(expect.arrayContaining([expect.anything()]));
      for (const example of examples!) expect(() => checkParams(command.name, command.params, example), `${command.name} ${JSON.stringify(example)}`).not.toThrow();
    }
  });

  it('refuses wrong parameters of every command with VALIDATION_FAILED naming the parameter', () => {
    expect(Object.keys(WRONG).sort()).toEqual(allCommands().map((c) => c.name).sort());
    for (const command of allCommands()) {
      for (const [params, parameter] of WRONG[command.name]!) {
        const error = refusal(() => checkParams(command.name, command.params, params));
        expect(error.code, `${command.name} ${JSON.stringify(params)}`).toBe('VALIDATION_FAILED');
        expect(error.details, `${command.name} ${JSON.stringify(params)}`).toEqual({ command: command.name, parameter });
        expect(error.message).toContain(`"${parameter}"`);
      }
    }
  });

  it('refuses parameters that are not an object', () => {
    for (const params of [null, [], 'on', 3]) {
      expect(refusal(() => checkParams('turn_on', CAPABILITIES.power.commands.turn_on.params, params)).code).toBe('VALIDATION_FAILED');
    }
  });

  it('classes unlock, open and disarm sensitive, factory reset and firmware update critical, the rest normal', () => {
    for (const command of allCommands()) {
      const expected = SENSITIVE.includes(command.name) ? 'sensitive' : CRITICAL.includes(command.name) ? 'critical' : 'normal';
      expect(command.risk, command.name).toBe(expected);
    }
  });

  it('refuses an unknown capability or type by name, and says which capability a command belongs to', () => {
    const unknown = refusal(() => assertCapabilityName('teleport'));
    expect([unknown.code, unknown.details]).toEqual(['VALIDATION_FAILED', { capability: 'teleport' }]);
    expect(unknown.message).toContain('"teleport"');
    expect(refusal(() => assertCapabilityName('unlock')).message).toMatch(/"unlock" is a command of the capability "lock"/);
    const type = refusal(() => assertDeviceType('toaster'));
    expect([type.code, type.details]).toEqual(['VALIDATION_FAILED', { type: 'toaster' }]);
    expect(assertDeviceType('security_panel')).toBe('security_panel');
  });
});

describe('risk tightening per device', () => {
  const combos = [false, true].flatMap((requiresPin) => [false, true].map((requiresApproval) => ({ requiresPin, requiresApproval })));

  it('never lowers a command below its catalogue class, whatever the flags', () => {
    for (const command of allCommands()) {
      for (const tightening of combos) {
        const effective = effectiveRisk(command.risk, tightening);
        expect(riskRank(effective.risk), `${command.name} ${JSON.stringify(tightening)}`).toBeGreaterThanOrEqual(riskRank(command.risk));
        expect(effective.catalogueRisk).toBe(command.risk);
      }
    }
  });

  it('raises: no flags keep the class, pin makes it at least sensitive, approval makes it critical', () => {
    for (const risk of RISK_CLASSES) {
      expect(effectiveRisk(risk, { requiresPin: false, requiresApproval: false }).risk).toBe(risk);
      expect(riskRank(effectiveRisk(risk, { requiresPin: true, requiresApproval: false }).risk)).toBeGreaterThanOrEqual(riskRank('sensitive'));
      expect(effectiveRisk(risk, { requiresPin: false, requiresApproval: true })).toMatchObject({ risk: 'critical', requiresApproval: true });
    }
    expect(effectiveRisk('critical', { requiresPin: false, requiresApproval: false }).requiresApproval).toBe(true);
    expect(effectiveRisk('normal', { requiresPin: true, requiresApproval: false })).toEqual({ catalogueRisk: 'normal', risk: 'sensitive', requiresPin: true, requiresApproval: false });
  });
});

describe('resolveCommand: a command as one device understands it', () => {
  const cap = (name: string, requiresPin = false, requiresApproval = false): DeviceCapability => ({ name, requiresPin, requiresApproval });
  const door = { capabilities: [cap('lock'), cap('battery')] };

  it('finds the capability that accepts a command, with the catalogue risk', () => {
    expect(resolveCommand(door.capabilities, 'unlock')).toMatchObject({ command: 'unlock', capability: 'lock', catalogueRisk: 'sensitive', risk: 'sensitive', requiresPin: false, requiresApproval: false });
    expect(resolveCommand(door.capabilities, 'lock')).toMatchObject({ capability: 'lock', risk: 'normal' });
  });

  it('applies the device\'s tightening to every command of the capability', () => {
    const tightened = { capabilities: [cap('lock', false, true)] };
    expect(resolveCommand(tightened.capabilities, 'lock')).toMatchObject({ catalogueRisk: 'normal', risk: 'critical', requiresApproval: true });
    expect(resolveCommand([cap('update_firmware')], 'update_firmware')).toMatchObject({ risk: 'critical', requiresApproval: true });
  });

  it('denies by default: a command of a capability the device lacks, a sensor read, a capability name that is no command', () => {
    expect(resolveCommand(door.capabilities, 'open')).toBeUndefined();
    expect(resolveCommand(door.capabilities, 'battery')).toBeUndefined();
    expect(resolveCommand([cap('power')], 'power')).toBeUndefined();
    expect(resolveCommand(door.capabilities, 'self-destruct')).toBeUndefined();
  });

  it('keeps rows written before the catalogue working: a command named as a capability, or a free-form one', () => {
    const legacy = { capabilities: [cap('unlock'), cap('ping'), cap('reset', true)] };
    const unlock = resolveCommand(legacy.capabilities, 'unlock')!;
    expect(unlock).toMatchObject({ capability: 'unlock', risk: 'sensitive' });
    expect(refusal(() => checkCommandParams(unlock, { pin: '1' })).details).toEqual({ command: 'unlock', parameter: 'pin' });
    const ping = resolveCommand(legacy.capabilities, 'ping')!;
    expect(ping).toMatchObject({ capability: 'ping', risk: 'normal', params: undefined });
    expect(() => checkCommandParams(ping, { n: 1 })).not.toThrow();
    expect(resolveCommand(legacy.capabilities, 'reset')).toMatchObject({ risk: 'sensitive', requiresPin: true });
  });
});

describe('reportedState', () => {
  it('reads the fields of the device\'s capabilities from its state JSON, in the catalogue\'s shape only', () => {
    const state = { on: true, brightness: 140, color_temperature: 2700, locked: false, firmware: 'x', battery: 80 };
    expect(reportedState(['power', 'brightness', 'color_temperature', 'battery'], state)).toEqual({ on: true, color_temperature: 2700, battery: 80 });
    expect(reportedState(['lock', 'legacy-name'], state)).toEqual({ locked: false });
    expect(reportedState(['power'], null)).toEqual({});
    expect(reportedState(['power'], ['on'])).toEqual({});
  });
});
