import { TRAIT, pick, type Trait } from './trait.js';

/** A thermometer: https://developers.home.google.com/cloud-to-cloud/traits/temperaturecontrol (query only). */
export const TemperatureControl: Trait = {
  name: TRAIT('TemperatureControl'),
  capability: 'temperature',
  // A thermostat reports the room's temperature as thermostatTemperatureAmbient.
  supersededBy: 'thermostat',
  attributes: () => ({ queryOnlyTemperatureControl: true, temperatureUnitForUX: 'C', temperatureRange: { minThresholdCelsius: -40, maxThresholdCelsius: 125 } }),
  state: (reported) => pick(reported, { temperature: 'temperatureAmbientCelsius' }),
};

/** https://developers.home.google.com/cloud-to-cloud/traits/humiditysetting (query only). */
export const HumiditySetting: Trait = {
  name: TRAIT('HumiditySetting'),
  capability: 'humidity',
  attributes: () => ({ queryOnlyHumiditySetting: true }),
  state: (reported) => (typeof reported.humidity === 'number' ? { humidityAmbientPercent: Math.round(reported.humidity) } : {}),
};

function descriptive(percent: number, low: unknown): string {
  if (low === true || percent <= 10) return 'CRITICALLY_LOW';
  if (percent <= 25) return 'LOW';
  if (percent <= 75) return 'MEDIUM';
  return percent >= 98 ? 'FULL' : 'HIGH';
}

/** A battery: https://developers.home.google.com/cloud-to-cloud/traits/energystorage (query only). */
export const EnergyStorage: Trait = {
  name: TRAIT('EnergyStorage'),
  capability: 'battery',
  attributes: () => ({ queryOnlyEnergyStorage: true, isRechargeable: false }),
  state: (reported) => (typeof reported.battery === 'number'
    ? { descriptiveCapacityRemaining: descriptive(reported.battery, reported.battery_low), capacityRemaining: [{ rawValue: reported.battery, unit: 'PERCENTAGE' }] }
    : {}),
};
