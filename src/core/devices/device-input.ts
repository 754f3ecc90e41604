import { unstorableReason } from '../../auth/storable-text.js';
import { assertCapabilityName, assertDeviceType, type DeviceType } from '../capabilities/catalogue.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { assertDeviceName } from './device-name.js';

/** A capability of a device, with the tenant's tightening of its commands' risk (`lock:pin`: unlocking and locking need the PIN). */
export type CapabilitySpec = { name: string; requiresPin?: boolean; requiresApproval?: boolean };

/** What the voice platforms show (Google SYNC name.name / name.nicknames / roomHint, Alexa friendlyName / description). */
export type DeviceProfile = { displayName: string | null; nicknames: string[]; room: string | null };

/** A new device as callers describe it (POST /v1/devices, a batch entry, a CSV row). */
export type NewDevice = {
  name: string;
  type?: string;
  capabilities?: CapabilitySpec[];
  displayName?: string;
  nicknames?: string[];
  room?: string;
  ownerUserId?: string;
  certificateCn?: string;
};

/** A new device once checked: every field present, capabilities normalised. */
export type CheckedDevice = DeviceProfile & {
  name: string;
  type: DeviceType;
  capabilities: Required<CapabilitySpec>[];
  ownerUserId: string | null;
  certificateCn: string | null;
};

/** A change to a device (PATCH): absent fields stay, null clears. */
export type DeviceChange = {
  displayName?: string | null;
  nicknames?: string[];
  room?: string | null;
  ownerUserId?: string | null;
  capabilities?: CapabilitySpec[];
};

/** One thing wrong with one entry of a batch (index into the request's array). */
export type DeviceProblem = { index: number; name?: string; message: string };

/** The most devices one batch creates: one transaction, one request, about 25 ms of argon2id each (README). */
export const MAX_BATCH = 1000;
export const MAX_NICKNAMES = 10;
export const MAX_NICKNAME_CHARS = 64;
export const MAX_DISPLAY_NAME_CHARS = 128;
export const MAX_ROOM_CHARS = 64;
export const MAX_CERTIFICATE_CN_CHARS = 256;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// eslint-disable-next-line no-control-regex -- control characters are what it refuses.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Runs a check that throws GatewayError, collecting its message (and what its details name) instead. */
function collect(problems: string[], check: () => void, named?: Record<string, unknown>): void {
  try {
    check();
  } catch (error) {
    if (!isGatewayError(error)) throw error;
    problems.push(error.message);
    if (named) Object.assign(named, error.details);
  }
}

/** A shown text: trimmed, non-empty, bounded, printable; undefined/null pass through. */
function shownText(field: string, value: string | null | undefined, max: number, problems: string[]): string | null | undefined {
  if (value === undefined || value === null) return value;
  const text = value.trim();
  const unstorable = unstorableReason(text);
  if (text.length === 0) problems.push(`${field} must not be empty (send null to clear it).`);
  else if (text.length > max) problems.push(`${field} must be at most ${max} characters.`);
  else if (unstorable || CONTROL.test(text)) problems.push(`${field} ${unstorable ?? 'must not contain control characters'}.`);
  return text;
}

function checkNicknames(nicknames: string[] | undefined, problems: string[]): string[] | undefined {
  if (nicknames === undefined) return undefined;
  if (nicknames.length > MAX_NICKNAMES) problems.push(`At most ${MAX_NICKNAMES} nicknames.`);
  const checked = nicknames.map((nickname) => shownText('A nickname', nickname, MAX_NICKNAME_CHARS, problems) as string);
  const seen = new Set<string>();
  for (const nickname of checked) {
    if (seen.has(nickname.toLowerCase())) problems.push(`The nickname "${nickname}" is given twice.`);
    seen.add(nickname.toLowerCase());
  }
  return checked;
}

export function checkCapabilities(capabilities: CapabilitySpec[], problems: string[], named?: Record<string, unknown>): Required<CapabilitySpec>[] {
  const seen = new Set<string>();
  for (const capability of capabilities) {
    collect(problems, () => assertCapabilityName(capability.name), named);
    if (seen.has(capability.name)) {
      problems.push(`Capability "${capability.name}" is given twice.`);
      if (named) named.capability = capability.name;
    }
    seen.add(capability.name);
  }
  return capabilities.map((c) => ({ name: c.name, requiresPin: Boolean(c.requiresPin), requiresApproval: Boolean(c.requiresApproval) }));
}

function checkOwner(ownerUserId: string | null | undefined, problems: string[]): void {
  if (ownerUserId && !UUID.test(ownerUserId)) problems.push(`ownerUserId "${ownerUserId}" is not a user id (a UUID).`);
}

function checkCertificateCn(cn: string | undefined, problems: string[]): string | null {
  if (cn === undefined) return null;
  const reason = unstorableReason(cn);
  if (cn.length === 0 || cn.length > MAX_CERTIFICATE_CN_CHARS) problems.push(`certificateCn must be 1-${MAX_CERTIFICATE_CN_CHARS} characters.`);
  else if (reason || CONTROL.test(cn)) problems.push(`certificateCn ${reason ?? 'must not contain control characters'}.`);
  // "@" is the username separator: a CN holding one could name another tenant's device by its username.
  else if (cn.includes('@')) problems.push('certificateCn must not contain "@" (a device\'s username, name@tenant, already serves as its certificate CN).');
  return cn;
}

/**
 * Every problem of one new device (none: `device` is set); `named` holds what
 * the catalogue's refusals name (`{ type }`, `{ capability }`) for the error's details.
 */
export function checkNewDevice(input: NewDevice): { device?: CheckedDevice; problems: string[]; named: Record<string, unknown> } {
  const problems: string[] = [];
  const named: Record<string, unknown> = {};
  collect(problems, () => assertDeviceName(input.name));
  let type: DeviceType = 'other';
  collect(problems, () => (type = assertDeviceType(input.type ?? 'other')), named);
  const capabilities = checkCapabilities(input.capabilities ?? [], problems, named);
  const displayName = shownText('displayName', input.displayName, MAX_DISPLAY_NAME_CHARS, problems) ?? null;
  const room = shownText('room', input.room, MAX_ROOM_CHARS, problems) ?? null;
  const nicknames = checkNicknames(input.nicknames, problems) ?? [];
  checkOwner(input.ownerUserId, problems);
  const certificateCn = checkCertificateCn(input.certificateCn, problems);
  if (problems.length > 0) return { problems, named };
  return { device: { name: input.name, type, capabilities, displayName, nicknames, room, ownerUserId: input.ownerUserId ?? null, certificateCn }, problems, named };
}

/** A change, checked; throws VALIDATION_FAILED listing every problem. */
export function checkChange(change: DeviceChange): DeviceChange & { capabilities?: Required<CapabilitySpec>[] } {
  const problems: string[] = [];
  const checked: DeviceChange & { capabilities?: Required<CapabilitySpec>[] } = {};
  if (change.displayName !== undefined) checked.displayName = shownText('displayName', change.displayName, MAX_DISPLAY_NAME_CHARS, problems);
  if (change.room !== undefined) checked.room = shownText('room', change.room, MAX_ROOM_CHARS, problems);
  if (change.nicknames !== undefined) checked.nicknames = checkNicknames(change.nicknames, problems);
  if (change.ownerUserId !== undefined) {
    checkOwner(change.ownerUserId, problems);
    checked.ownerUserId = change.ownerUserId;
  }
  if (change.capabilities !== undefined) checked.capabilities = checkCapabilities(change.capabilities, problems);
  if (problems.length > 0) throw new GatewayError('VALIDATION_FAILED', problems.join(' '), { problems });
  return checked;
}

/**
 * A batch, checked as a whole before anything is written: every entry's own
 * problems, and names or certificate CNs given twice within it, each reported
 * with its index. Existing devices are checked against the database later.
 */
export function checkBatch(inputs: readonly NewDevice[]): { devices: CheckedDevice[]; problems: DeviceProblem[] } {
  const problems: DeviceProblem[] = [];
  const devices: CheckedDevice[] = [];
  if (inputs.length === 0) problems.push({ index: -1, message: 'The batch is empty.' });
  if (inputs.length > MAX_BATCH) problems.push({ index: -1, message: `At most ${MAX_BATCH} devices per batch (got ${inputs.length}).` });
  const firstByName = new Map<string, number>();
  const firstByCn = new Map<string, number>();
  inputs.forEach((input, index) => {
    const { device, problems: own } = checkNewDevice(input);
    const first = firstByName.get(input.name);
    if (first !== undefined) own.push(`The name "${input.name}" is also entry ${first}'s.`);
    else firstByName.set(input.name, index);
    if (input.certificateCn !== undefined) {
      const firstCn = firstByCn.get(input.certificateCn);
      if (firstCn !== undefined) own.push(`The certificateCn "${input.certificateCn}" is also entry ${firstCn}'s.`);
      else firstByCn.set(input.certificateCn, index);
    }
    for (const message of own) problems.push({ index, name: input.name, message });
    if (device && own.length === 0) devices.push(device);
  });
  return { devices, problems };
}

/** The 400 for a batch: every problem, by index, in details (the message names the first few). */
export function batchRefused(problems: DeviceProblem[]): GatewayError {
  const shown = problems.slice(0, 5).map((p) => (p.index < 0 ? p.message : `entry ${p.index}${p.name ? ` (${p.name})` : ''}: ${p.message}`));
  const more = problems.length > shown.length ? ` …and ${problems.length - shown.length} more (details.problems).` : '';
  return new GatewayError('VALIDATION_FAILED', `Nothing was created. ${shown.join(' ')}${more}`, { problems });
}
