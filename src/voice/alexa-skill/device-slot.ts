import type { Device } from '../../core/devices/device-registry.js';
import { Early } from './answers.js';
import { matchDevice } from './device-match.js';
import { slotValue, type Turn } from './turn.js';

/** The device the `device` slot names, among the caller's; a question or "no such device" otherwise. */
export async function deviceSaid(turn: Turn): Promise<Device> {
  const said = slotValue(turn, 'device')?.said;
  if (!said) {
    const elicit = turn.intent ? { elicit: { slot: 'device', intent: turn.intent } } : {};
    throw new Early({ say: 'whichDevice', reprompt: 'whichDevice', ...elicit, outcome: 'DEVICE_MISSING' });
  }
  const device = matchDevice(await turn.core.devices.list(turn.ctx), said);
  if (!device) throw new Early({ say: 'noSuchDevice', params: { device: said }, outcome: 'DEVICE_NOT_FOUND' });
  return device;
}
