import { COMMAND, TRAIT, pick, type Trait } from './trait.js';

/** https://developers.home.google.com/cloud-to-cloud/traits/lockunlock */
export const LockUnlock: Trait = {
  name: TRAIT('LockUnlock'),
  capability: 'lock',
  state: (reported) => pick(reported, { locked: 'isLocked', jammed: 'isJammed' }),
  commands: { [COMMAND('LockUnlock')]: (params) => ({ name: params.lock ? 'lock' : 'unlock', params: {} }) },
  executed: (params) => ({ isLocked: Boolean(params.lock), isJammed: false }),
};

/** https://developers.home.google.com/cloud-to-cloud/traits/openclose */
export const OpenClose: Trait = {
  name: TRAIT('OpenClose'),
  capability: 'open_close',
  attributes: () => ({ discreteOnlyOpenClose: false, queryOnlyOpenClose: false }),
  state: (reported) => pick(reported, { position: 'openPercent' }),
  commands: {
    [COMMAND('OpenClose')]: (params) => {
      const percent = params.openPercent;
      if (percent === 100) return { name: 'open', params: {} };
      if (percent === 0) return { name: 'close', params: {} };
      return { name: 'set_position', params: { position: percent } };
    },
  },
  executed: (params) => ({ openPercent: params.openPercent }),
};

/** A contact sensor is a query-only OpenClose (Google has no contact trait). */
export const ContactSensor: Trait = {
  name: TRAIT('OpenClose'),
  capability: 'contact',
  supersededBy: 'open_close',
  attributes: () => ({ discreteOnlyOpenClose: true, queryOnlyOpenClose: true }),
  state: (reported) => (reported.contact === undefined ? {} : { openPercent: reported.contact === 'open' ? 100 : 0 }),
};

const ARM_LEVELS = ['home', 'away', 'night'] as const;

/** https://developers.home.google.com/cloud-to-cloud/traits/armdisarm */
export const ArmDisarm: Trait = {
  name: TRAIT('ArmDisarm'),
  capability: 'arm_disarm',
  attributes: () => ({
    availableArmLevels: {
      levels: ARM_LEVELS.map((level) => ({ level_name: level, level_values: [{ level_synonym: [level], lang: 'en' }] })),
      ordered: false,
    },
  }),
  state: (reported) => (typeof reported.arm_mode === 'string'
    ? { isArmed: reported.arm_mode !== 'disarmed', ...(reported.arm_mode === 'disarmed' ? {} : { currentArmLevel: reported.arm_mode }) }
    : {}),
  commands: {
    [COMMAND('ArmDisarm')]: (params) => (params.arm === false || params.cancel === true
      ? { name: 'disarm', params: {} }
      : { name: 'arm', params: { mode: params.armLevel ?? 'away' } }),
  },
  executed: (params) => (params.arm === false || params.cancel === true ? { isArmed: false } : { isArmed: true, currentArmLevel: params.armLevel ?? 'away' }),
};
