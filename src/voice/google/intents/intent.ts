import type { TenantContext } from '../../../auth/context.js';
import type { Core } from '../../../core/create-core.js';
import { MAX_STATE_BATCH, type DeviceStateView } from '../../../core/devices/device-registry.js';
import type { VoiceIntentRecord } from '../../../core/voice-accounts.js';
import { traitsFor } from '../traits/registry.js';
import type { Trait } from '../traits/trait.js';

/** Counts an intent's outcome (the metrics the composition root keeps). */
export type IntentCounter = (intent: string, outcome: string) => void;

/** What every intent handler gets: the core, the caller's context (a `voice` principal on channel google) and the request. */
export type Intent = { core: Core; ctx: TenantContext; requestId: string; executeWaitMs: number; count: IntentCounter };

/** The VOICE_INTENT security events of what was answered, and the counts. */
export async function audit({ core, ctx, count }: Intent, records: readonly VoiceIntentRecord[]): Promise<void> {
  await core.voiceAccounts.recordIntents(ctx, records);
  for (const record of records) count(record.intent, record.outcome);
}

/** One handler per intent (Home Assistant's smart_home.py HANDLERS): it answers Google's `payload`, or null for an empty body. */
export type IntentHandler = (intent: Intent, payload: Record<string, unknown>) => Promise<Record<string, unknown> | null>;

/** A device with the traits the tenant's voice policy lets Google see. */
export type ExposedDevice = DeviceStateView & { traits: Trait[] };

/**
 * Devices by name, each with its exposed traits: one batch state read per
 * MAX_STATE_BATCH names. A device this tenant has not, or with nothing Google
 * may see, is missing.
 */
export async function exposedDevices({ core, ctx }: Pick<Intent, 'core' | 'ctx'>, names: readonly string[]): Promise<Map<string, ExposedDevice>> {
  const rules = await core.voicePolicy.rulesFor(ctx, 'google');
  // Capabilities without commands (sensors) have no rule: reading is what device.read allows.
  const exposed = (capability: string) => rules.get(capability)?.enabled ?? true;
  const found = new Map<string, ExposedDevice>();
  for (let i = 0; i < names.length; i += MAX_STATE_BATCH) {
    const { devices } = await core.devices.readStates(ctx, names.slice(i, i + MAX_STATE_BATCH));
    for (const device of devices) {
      const traits = traitsFor(device.capabilities, exposed);
      if (traits.length > 0) found.set(device.name, { ...device, traits });
    }
  }
  return found;
}
