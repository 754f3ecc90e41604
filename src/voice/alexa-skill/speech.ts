/**
 * Everything the skill says, in short voice-safe sentences (seed 003: voice
 * gets the short version), by locale. Never a PIN: no line takes one.
 */
export type Locale = 'en-US' | 'de-DE';
export type P = Record<string, string | number>;
type Lines = Record<string, (p: P) => string>;

/** A sentence that starts with a command's name ("turn on") starts with a capital. */
const initial = (text: string | number) => `${String(text).charAt(0).toUpperCase()}${String(text).slice(1)}`;

const EN = {
  welcome: () => 'Gatehouse here. Ask what your devices are, or tell me what to do.',
  help: () => 'You can say: list my devices, is the garage open, what happened at the front door, turn on the pump, or run the good night scene.',
  reprompt: () => 'What would you like to do?',
  goodbye: () => 'Goodbye.',
  fallback: () => 'Sorry, I can\'t help with that. Say help to hear what I can do.',
  linkAccount: () => 'Please link your Gatehouse account in the Alexa app first.',
  noDevices: () => 'You have no devices yet.',
  devices: (p) => `You have ${p.count} devices: ${p.names}.`,
  oneDevice: (p) => `You have one device: ${p.names}.`,
  whichDevice: () => 'Which device?',
  noSuchDevice: (p) => `I can't find a device called ${p.device}.`,
  noState: (p) => `${p.device} hasn't reported anything yet.`,
  status: (p) => `${p.device}: ${p.facts}.`,
  offlineStatus: (p) => `${p.device} is offline. Last I heard: ${p.facts}.`,
  noEvents: (p) => `Nothing has happened at ${p.device} lately.`,
  events: (p) => `Lately at ${p.device}: ${p.events}.`,
  whichCommand: () => 'What should I do?',
  minutesAgo: (p) => `${p.what} ${p.n} minutes ago`, hoursAgo: (p) => `${p.what} ${p.n} hours ago`, daysAgo: (p) => `${p.what} ${p.n} days ago`,
  unknownCommand: (p) => `I don't know how to ${p.command}.`,
  done: (p) => `Done: ${p.device}, ${p.command}.`,
  approvalSent: (p) => `${initial(p.command!)} on ${p.device} needs a person's approval. I've sent the request.`,
  askPin: () => 'That needs your voice PIN. What is it?',
  wrongPin: () => 'That PIN didn\'t match. Please say it again.',
  pinLocked: () => 'Too many wrong PINs. Commands that need your PIN are locked for a while.',
  noPin: () => 'That needs a voice PIN, and you haven\'t set one. You can set it in the Gatehouse app.',
  notByVoice: (p) => `Gatehouse doesn't allow ${p.command} on ${p.device} by voice.`,
  offline: (p) => `${p.device} is offline, so nothing was sent.`,
  tooSlow: (p) => `${p.device} didn't answer in time.`,
  deviceFailed: (p) => `${p.device} reported a problem with that.`,
  denied: (p) => `${initial(p.command!)} on ${p.device} was denied.`,
  tooMany: () => 'Too many requests. Try again in a moment.',
  trouble: () => 'Gatehouse is having trouble right now. Please try again later.',
  whichScene: () => 'Which scene?',
  noSuchScene: (p) => `I can't find a scene called ${p.scene}.`,
  // A scene's answer: each of its commands with its result, in the scene's order.
  sceneResult: (p) => `Scene ${p.scene}. ${initial(p.results!)}.`,
  stepDone: (p) => `${p.device} ${p.command}: done`,
  stepFailed: (p) => `${p.device} ${p.command}: the device reported a problem`,
  stepPending: (p) => `${p.device} ${p.command}: no answer yet`,
  stepApproval: (p) => `${p.device} ${p.command}: waiting for a person's approval`,
  stepDenied: (p) => `${p.device} ${p.command}: denied`,
  stepOffline: (p) => `${p.device} ${p.command}: offline, not sent`,
  stepNotSent: (p) => `${p.device} ${p.command}: not sent`,
  // Facts about a device's state, joined into one sentence.
  on: (p) => (p.value ? 'on' : 'off'), brightness: (p) => `brightness ${p.value} percent`,
  locked: (p) => (p.value ? 'locked' : 'unlocked'), jammed: (p) => (p.value ? 'jammed' : ''),
  position: (p) => (p.value === 0 ? 'closed' : p.value === 100 ? 'open' : `open ${p.value} percent`), moving: (p) => (p.value ? 'moving' : ''),
  arm_mode: (p) => (p.value === 'disarmed' ? 'disarmed' : `armed ${p.value}`), alarm: (p) => (p.value ? 'the alarm is sounding' : ''),
  setpoint: (p) => `set to ${p.value} degrees`, mode: (p) => `mode ${p.value}`, fan_speed: (p) => `fan at ${p.value} percent`,
  temperature: (p) => `${p.value} degrees`, humidity: (p) => `humidity ${p.value} percent`,
  contact: (p) => String(p.value), motion: (p) => (p.value ? 'motion detected' : 'no motion'),
  battery: (p) => `battery ${p.value} percent`, battery_low: (p) => (p.value ? 'battery low' : ''),
  color_temperature: (p) => `${p.value} kelvin`,
  and: () => 'and',
} satisfies Lines;

export type SpeechKey = keyof typeof EN;

const DE: Record<SpeechKey, (p: P) => string> = {
  welcome: () => 'Hier ist Gatehouse. Frag nach deinen Geräten oder sag mir, was ich tun soll.',
  help: () => 'Du kannst sagen: liste meine Geräte, ist das Garagentor offen, was ist an der Haustür passiert, schalte die Pumpe ein, oder starte die Szene Gute Nacht.',
  reprompt: () => 'Was möchtest du tun?',
  goodbye: () => 'Tschüss.',
  fallback: () => 'Damit kann ich leider nicht helfen. Sag Hilfe, um zu hören, was ich kann.',
  linkAccount: () => 'Bitte verknüpfe zuerst dein Gatehouse-Konto in der Alexa-App.',
  noDevices: () => 'Du hast noch keine Geräte.',
  devices: (p) => `Du hast ${p.count} Geräte: ${p.names}.`,
  oneDevice: (p) => `Du hast ein Gerät: ${p.names}.`,
  whichDevice: () => 'Welches Gerät?',
  noSuchDevice: (p) => `Ich finde kein Gerät namens ${p.device}.`,
  noState: (p) => `${p.device} hat noch nichts gemeldet.`,
  status: (p) => `${p.device}: ${p.facts}.`,
  offlineStatus: (p) => `${p.device} ist offline. Zuletzt: ${p.facts}.`,
  noEvents: (p) => `Bei ${p.device} ist zuletzt nichts passiert.`,
  events: (p) => `Zuletzt bei ${p.device}: ${p.events}.`,
  whichCommand: () => 'Was soll ich tun?',
  minutesAgo: (p) => `${p.what} vor ${p.n} Minuten`, hoursAgo: (p) => `${p.what} vor ${p.n} Stunden`, daysAgo: (p) => `${p.what} vor ${p.n} Tagen`,
  unknownCommand: (p) => `Ich weiß nicht, wie ich ${p.command} soll.`,
  done: (p) => `Erledigt: ${p.device}, ${p.command}.`,
  approvalSent: (p) => `${initial(p.command!)} bei ${p.device} muss eine Person freigeben. Ich habe die Anfrage geschickt.`,
  askPin: () => 'Dafür brauche ich deine Sprach-PIN. Wie lautet sie?',
  wrongPin: () => 'Die PIN stimmt nicht. Bitte sag sie noch einmal.',
  pinLocked: () => 'Zu viele falsche PINs. Befehle mit PIN sind eine Weile gesperrt.',
  noPin: () => 'Dafür brauchst du eine Sprach-PIN, und du hast keine. Du kannst sie in der Gatehouse-App festlegen.',
  notByVoice: (p) => `Gatehouse erlaubt ${p.command} bei ${p.device} nicht per Sprache.`,
  offline: (p) => `${p.device} ist offline, es wurde nichts gesendet.`,
  tooSlow: (p) => `${p.device} hat nicht rechtzeitig geantwortet.`,
  deviceFailed: (p) => `${p.device} hat einen Fehler gemeldet.`,
  denied: (p) => `${initial(p.command!)} bei ${p.device} wurde abgelehnt.`,
  tooMany: () => 'Zu viele Anfragen. Versuch es gleich noch einmal.',
  trouble: () => 'Gatehouse hat gerade ein Problem. Bitte versuch es später noch einmal.',
  whichScene: () => 'Welche Szene?',
  noSuchScene: (p) => `Ich finde keine Szene namens ${p.scene}.`,
  sceneResult: (p) => `Szene ${p.scene}. ${initial(p.results!)}.`,
  stepDone: (p) => `${p.device} ${p.command}: erledigt`,
  stepFailed: (p) => `${p.device} ${p.command}: Fehler gemeldet`,
  stepPending: (p) => `${p.device} ${p.command}: noch keine Antwort`,
  stepApproval: (p) => `${p.device} ${p.command}: wartet auf Freigabe`,
  stepDenied: (p) => `${p.device} ${p.command}: abgelehnt`,
  stepOffline: (p) => `${p.device} ${p.command}: offline, nicht gesendet`,
  stepNotSent: (p) => `${p.device} ${p.command}: nicht gesendet`,
  on: (p) => (p.value ? 'an' : 'aus'), brightness: (p) => `Helligkeit ${p.value} Prozent`,
  locked: (p) => (p.value ? 'verriegelt' : 'entriegelt'), jammed: (p) => (p.value ? 'blockiert' : ''),
  position: (p) => (p.value === 0 ? 'geschlossen' : p.value === 100 ? 'offen' : `zu ${p.value} Prozent offen`), moving: (p) => (p.value ? 'in Bewegung' : ''),
  arm_mode: (p) => (p.value === 'disarmed' ? 'unscharf' : `scharf (${p.value})`), alarm: (p) => (p.value ? 'der Alarm läuft' : ''),
  setpoint: (p) => `eingestellt auf ${p.value} Grad`, mode: (p) => `Modus ${p.value}`, fan_speed: (p) => `Lüfter auf ${p.value} Prozent`,
  temperature: (p) => `${p.value} Grad`, humidity: (p) => `Luftfeuchte ${p.value} Prozent`,
  contact: (p) => (p.value === 'open' ? 'offen' : 'geschlossen'), motion: (p) => (p.value ? 'Bewegung erkannt' : 'keine Bewegung'),
  battery: (p) => `Batterie ${p.value} Prozent`, battery_low: (p) => (p.value ? 'Batterie schwach' : ''),
  color_temperature: (p) => `${p.value} Kelvin`,
  and: () => 'und',
};

const LINES: Record<Locale, Record<SpeechKey, (p: P) => string>> = { 'en-US': EN, 'de-DE': DE };

export const localeOf = (locale: string | undefined): Locale => (locale?.toLowerCase().startsWith('de') ? 'de-DE' : 'en-US');
export const say = (locale: Locale, key: SpeechKey, p: P = {}): string => LINES[locale][key](p);
export const isSpeechKey = (key: string): key is SpeechKey => Object.hasOwn(EN, key);

/** A catalogue command as words of the locale ("turn_on": "turn on", "einschalten"), for a command nobody said (a scene's). */
const GERMAN_COMMANDS: Readonly<Record<string, string>> = {
  turn_on: 'einschalten', turn_off: 'ausschalten', open: 'öffnen', close: 'schließen', stop: 'anhalten', lock: 'verriegeln', unlock: 'entriegeln',
  arm: 'scharf schalten', disarm: 'unscharf schalten', restart: 'neu starten', set_brightness: 'dimmen', set_setpoint: 'Temperatur einstellen',
};
export const commandWords = (locale: Locale, command: string): string =>
  (locale === 'de-DE' ? GERMAN_COMMANDS[command] : undefined) ?? command.replace(/_/g, ' ');

/** "a, b and c" in the locale's words. */
export function listOf(locale: Locale, items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} ${say(locale, 'and')} ${items[items.length - 1]}`;
}
