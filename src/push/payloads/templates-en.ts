import type { Notification } from '../push-message.js';
import { securityEventWords } from './security-event-words.js';
import type { ActionLabels, Templates } from './template.js';

const device = (n: Notification) => n.deviceName ?? 'A device';
const command = (n: Notification) => n.commandName ?? 'A command';
const on = (n: Notification) => (n.deviceName ? ` on ${n.deviceName}` : '');

export const EN: Templates = {
  'device.alarm': (n) => ({ title: `Alarm: ${device(n)}`, body: `${device(n)} raised an alarm${n.kind ? ` (${n.kind})` : ''}.` }),
  'device.event': (n) => ({ title: device(n), body: `${device(n)} reported ${n.kind ?? 'an event'}.` }),
  'device.offline': (n) => ({ title: `${device(n)} is offline`, body: `${device(n)} lost its connection to Gatehouse.` }),
  'command.failed': (n) => ({ title: 'Command failed', body: `${command(n)}${on(n)} failed.` }),
  'command.expired': (n) => ({ title: 'Command expired', body: `${command(n)}${on(n)} was not carried out in time.` }),
  'approval.requested': (n) => ({ title: 'Approval needed', body: `${command(n)}${on(n)} waits for your approval.` }),
  'pin.locked': () => ({ title: 'Voice PIN locked', body: 'Too many wrong voice PINs: voice commands that need your PIN are locked for a while.' }),
  'security.event': (n) => ({ title: 'Security alert', body: `Security event: ${securityEventWords(n.kind, 'en')}.` }),
};

export const EN_ACTIONS: ActionLabels = { approve: 'Approve', deny: 'Deny' };
