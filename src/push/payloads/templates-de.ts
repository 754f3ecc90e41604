import type { Notification } from '../push-message.js';
import { securityEventWords } from './security-event-words.js';
import type { ActionLabels, Templates } from './template.js';

const device = (n: Notification) => n.deviceName ?? 'Ein Gerät';
const command = (n: Notification) => n.commandName ?? 'Ein Befehl';
const on = (n: Notification) => (n.deviceName ? ` auf ${n.deviceName}` : '');

export const DE: Templates = {
  'device.alarm': (n) => ({ title: `Alarm: ${device(n)}`, body: `${device(n)} hat Alarm ausgelöst${n.kind ? ` (${n.kind})` : ''}.` }),
  'device.event': (n) => ({ title: device(n), body: `${device(n)} meldet ${n.kind ?? 'ein Ereignis'}.` }),
  'device.offline': (n) => ({ title: `${device(n)} ist offline`, body: `${device(n)} hat die Verbindung zu Gatehouse verloren.` }),
  'command.failed': (n) => ({ title: 'Befehl fehlgeschlagen', body: `${command(n)}${on(n)} ist fehlgeschlagen.` }),
  'command.expired': (n) => ({ title: 'Befehl abgelaufen', body: `${command(n)}${on(n)} wurde nicht rechtzeitig ausgeführt.` }),
  'approval.requested': (n) => ({ title: 'Freigabe erforderlich', body: `${command(n)}${on(n)} wartet auf deine Freigabe.` }),
  'pin.locked': () => ({ title: 'Sprach-PIN gesperrt', body: 'Zu viele falsche Sprach-PINs: Sprachbefehle, die deine PIN brauchen, sind vorübergehend gesperrt.' }),
  'security.event': (n) => ({ title: 'Sicherheitswarnung', body: `Sicherheitsereignis: ${securityEventWords(n.kind, 'de')}.` }),
};

export const DE_ACTIONS: ActionLabels = { approve: 'Freigeben', deny: 'Ablehnen' };
