import { COMMAND, TRAIT, pick, type Trait } from './trait.js';

/** https://developers.home.google.com/cloud-to-cloud/traits/onoff */
export const OnOff: Trait = {
  name: TRAIT('OnOff'),
  capability: 'power',
  state: (reported) => pick(reported, { on: 'on' }),
  commands: { [COMMAND('OnOff')]: (params) => ({ name: params.on ? 'turn_on' : 'turn_off', params: {} }) },
  executed: (params) => ({ on: Boolean(params.on) }),
};

/** https://developers.home.google.com/cloud-to-cloud/traits/brightness */
export const Brightness: Trait = {
  name: TRAIT('Brightness'),
  capability: 'brightness',
  state: (reported) => pick(reported, { brightness: 'brightness' }),
  commands: { [COMMAND('BrightnessAbsolute')]: (params) => ({ name: 'set_brightness', params: { brightness: params.brightness } }) },
  executed: (params) => ({ brightness: params.brightness }),
};

/** Colour temperature only (the catalogue has no RGB): https://developers.home.google.com/cloud-to-cloud/traits/colorsetting */
export const ColorSetting: Trait = {
  name: TRAIT('ColorSetting'),
  capability: 'color_temperature',
  attributes: () => ({ colorTemperatureRange: { temperatureMinK: 1000, temperatureMaxK: 10000 } }),
  state: (reported) => (typeof reported.color_temperature === 'number' ? { color: { temperatureK: reported.color_temperature } } : {}),
  // EXECUTE names it `color.temperature`; QUERY answers `color.temperatureK`.
  commands: { [COMMAND('ColorAbsolute')]: (params) => ({ name: 'set_color_temperature', params: { kelvin: (params.color as { temperature?: unknown } | undefined)?.temperature } }) },
  executed: (params) => ({ color: { temperatureK: (params.color as { temperature?: unknown } | undefined)?.temperature } }),
};

/** https://developers.home.google.com/cloud-to-cloud/traits/scene */
export const Scene: Trait = {
  name: TRAIT('Scene'),
  capability: 'scene',
  attributes: () => ({ sceneReversible: true }),
  commands: { [COMMAND('ActivateScene')]: (params) => ({ name: params.deactivate === true ? 'deactivate_scene' : 'activate_scene', params: {} }) },
};
