import { COMMAND, TRAIT, pick, type Trait } from './trait.js';

/** Catalogue modes ↔ Google's thermostatMode values (which spell fan-only with a dash). */
const TO_GOOGLE: Record<string, string> = { off: 'off', heat: 'heat', cool: 'cool', auto: 'auto', eco: 'eco', fan_only: 'fan-only' };
const FROM_GOOGLE = Object.fromEntries(Object.entries(TO_GOOGLE).map(([ours, google]) => [google, ours]));

/** https://developers.home.google.com/cloud-to-cloud/traits/temperaturesetting */
export const TemperatureSetting: Trait = {
  name: TRAIT('TemperatureSetting'),
  capability: 'thermostat',
  attributes: () => ({ availableThermostatModes: Object.values(TO_GOOGLE), thermostatTemperatureUnit: 'C' }),
  state: (reported) => ({
    ...pick(reported, { setpoint: 'thermostatTemperatureSetpoint', temperature: 'thermostatTemperatureAmbient' }),
    ...(typeof reported.mode === 'string' ? { thermostatMode: TO_GOOGLE[reported.mode] } : {}),
  }),
  commands: {
    [COMMAND('ThermostatTemperatureSetpoint')]: (params) => ({ name: 'set_setpoint', params: { celsius: params.thermostatTemperatureSetpoint } }),
    // An unknown mode goes to the core as it came, which refuses it (valueOutOfRange).
    [COMMAND('ThermostatSetMode')]: (params) => ({ name: 'set_mode', params: { mode: FROM_GOOGLE[String(params.thermostatMode)] ?? params.thermostatMode } }),
  },
  executed: (params) => pick(params, { thermostatTemperatureSetpoint: 'thermostatTemperatureSetpoint', thermostatMode: 'thermostatMode' }),
};

/** https://developers.home.google.com/cloud-to-cloud/traits/fanspeed */
export const FanSpeed: Trait = {
  name: TRAIT('FanSpeed'),
  capability: 'fan_speed',
  attributes: () => ({ supportsFanSpeedPercent: true }),
  state: (reported) => pick(reported, { fan_speed: 'currentFanSpeedPercent' }),
  commands: { [COMMAND('SetFanSpeed')]: (params) => ({ name: 'set_fan_speed', params: { speed: params.fanSpeedPercent } }) },
  executed: (params) => ({ currentFanSpeedPercent: params.fanSpeedPercent }),
};
