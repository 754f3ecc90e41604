import { createHash } from 'node:crypto';
import type { Command } from '../../../core/commands/command-service.js';
import { isGatewayError } from '../../../core/errors.js';
import type { VoiceIntentRecord } from '../../../core/voice-accounts.js';
import { googleOutcome, type GoogleOutcome } from '../error-codes.js';
import { statesOf, translate } from '../traits/registry.js';
import { audit as recordAudit, exposedDevices, type ExposedDevice, type Intent, type IntentHandler } from './intent.js';
import { executeScene, isSceneId } from './scenes.js';

type Execution = { command: string; params?: Record<string, unknown>; challenge?: { pin?: unknown; ack?: unknown } };
type ExecutePayload = { commands?: { devices?: { id?: unknown }[]; execution?: Execution[] }[] };
type Done = { id: string; outcome: GoogleOutcome; executed: Record<string, unknown> };

/** What the device answered, as Google reads it: errors it names that Google knows, else hardError. */
const DEVICE_ERRORS = new Set(['deviceTurnedOff', 'deviceJammingDetected', 'deviceBusy', 'lowBattery', 'valueOutOfRange', 'hardError']);

function fromCommand(command: Command): GoogleOutcome {
  if (command.status === 'succeeded') return { status: 'SUCCESS' };
  // Awaiting a person's approval, or still on its way: its result comes later.
  if (['awaiting_approval', 'pending', 'delivered'].includes(command.status)) return { status: 'PENDING' };
  const said = (command.result as { errorCode?: unknown } | null)?.errorCode;
  return { status: 'ERROR', errorCode: command.status === 'failed' && typeof said === 'string' && DEVICE_ERRORS.has(said) ? said : command.status === 'failed' ? 'hardError' : 'transientError' };
}

/** Google's requestId with the device and the command's place: a retried EXECUTE finds the command it made (Idempotency-Key). */
function idempotencyKey(requestId: string, id: string, index: number): string {
  return `google:${createHash('sha256').update(`${requestId}\n${id}\n${index}`).digest('base64url')}`;
}

/** One device's executions in order, each through the core's command service; the first that does not succeed ends them. */
async function executeOn(intent: Intent, id: string, device: ExposedDevice | undefined, executions: Execution[], audit: VoiceIntentRecord[]): Promise<Done> {
  let executed: Record<string, unknown> = {};
  for (const [index, execution] of executions.entries()) {
    const params = execution.params ?? {};
    const pin = typeof execution.challenge?.pin === 'string' ? execution.challenge.pin : undefined;
    const translated = device && translate(device.traits, execution.command, params);
    let outcome: GoogleOutcome;
    if (!device) outcome = { status: 'ERROR', errorCode: 'deviceNotFound' };
    else if (!translated) outcome = { status: 'ERROR', errorCode: 'notSupported' };
    else {
      try {
        // Google returns only the challenge it was last asked for: the PIN asked after an ack must count as the ack too.
        const confirm = execution.challenge?.ack === true || pin !== undefined;
        const request = { ...translated.core, pin, confirm, idempotencyKey: idempotencyKey(intent.requestId, id, index) };
        outcome = fromCommand(await intent.core.commands.issueAndWait(intent.ctx, id, request, intent.executeWaitMs));
      } catch (error) {
        if (!isGatewayError(error)) throw error;
        outcome = googleOutcome(error);
      }
      if (outcome.status === 'SUCCESS') executed = { ...executed, ...translated.trait.executed?.(params) };
    }
    const said = 'errorCode' in outcome ? outcome.challengeNeeded?.type ?? outcome.errorCode : outcome.status;
    audit.push({ intent: 'EXECUTE', requestId: intent.requestId, device: id, command: execution.command, pinUsed: pin !== undefined, outcome: said });
    if (outcome.status !== 'SUCCESS') return { id, outcome, executed };
  }
  return { id, outcome: { status: 'SUCCESS' }, executed };
}

/** https://developers.home.google.com/cloud-to-cloud/intents/execute: one entry per device, SUCCESS with its new state. */
export const execute: IntentHandler = async (intent, payload) => {
  const work = new Map<string, Execution[]>();
  for (const group of (payload as ExecutePayload).commands ?? []) {
    for (const target of group.devices ?? []) work.set(String(target.id), [...(work.get(String(target.id)) ?? []), ...(group.execution ?? [])]);
  }
  const devices = await exposedDevices(intent, [...work.keys()].filter((id) => !isSceneId(id)));
  const audit: VoiceIntentRecord[] = [];
  const done = await Promise.all([...work].map(async ([id, executions]) =>
    isSceneId(id) ? { ...(await executeScene(intent, id, executions, audit)), executed: {} } : executeOn(intent, id, devices.get(id), executions, audit)));
  // The state after: what the device reports now, overlaid with what the commands set (its state message may still be on its way).
  const succeeded = done.filter((entry) => entry.outcome.status === 'SUCCESS' && !isSceneId(entry.id)).map((entry) => entry.id);
  const after = await exposedDevices(intent, succeeded);
  await recordAudit(intent, audit);
  return {
    commands: done.map(({ id, outcome, executed }) => {
      const device = after.get(id);
      const states = device ? { online: true, ...statesOf(device.traits, device.reported, device.capabilities), ...executed } : undefined;
      return { ids: [id], ...outcome, ...(outcome.status === 'SUCCESS' && states ? { states } : {}) };
    }),
  };
};
