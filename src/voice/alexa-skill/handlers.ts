import { activateScene, activateSceneIntent, sceneSaidAsDevice } from './activate-scene.js';
import { spokenName } from './device-match.js';
import { deviceSaid } from './device-slot.js';
import { runCapability } from './run-capability.js';
import { listOf, say } from './speech.js';
import { stateFacts } from './state-facts.js';
import { slotValue, type Answer, type Turn } from './turn.js';

export type Handler = (turn: Turn) => Promise<Answer>;

/** Handlers by request type (LaunchRequest, SessionEndedRequest) or intent name, as Home Assistant's alexa/handlers.py registers them. */
const HANDLERS = new Map<string, Handler>();
const register = (name: string, handler: Handler) => HANDLERS.set(name, handler);
export const handlerFor = (name: string): Handler | undefined => HANDLERS.get(name);
/** The intents served: the interaction models must name exactly these (test/unit/alexa-skill-model.test.ts). */
export const servedIntents = (): string[] => [...HANDLERS.keys()].filter((name) => !name.endsWith('Request'));

register('LaunchRequest', async () => ({ say: 'welcome', reprompt: 'reprompt', outcome: 'WELCOME' }));
// Alexa allows no speech in answer to the end of a session.
register('SessionEndedRequest', async () => ({ outcome: 'ENDED' }));
register('AMAZON.HelpIntent', async () => ({ say: 'help', reprompt: 'reprompt', outcome: 'HELP' }));
register('AMAZON.StopIntent', async () => ({ say: 'goodbye', outcome: 'STOPPED' }));
register('AMAZON.CancelIntent', async () => ({ say: 'goodbye', outcome: 'STOPPED' }));
register('AMAZON.NavigateHomeIntent', async () => ({ say: 'goodbye', outcome: 'STOPPED' }));
register('AMAZON.FallbackIntent', async () => ({ say: 'fallback', reprompt: 'reprompt', outcome: 'FALLBACK' }));

const MAX_LISTED = 10;
register('ListDevicesIntent', async (turn) => {
  const names = (await turn.core.devices.list(turn.ctx)).filter((d) => d.status === 'active').map(spokenName);
  if (names.length === 0) return { say: 'noDevices', outcome: 'LISTED' };
  const listed = listOf(turn.locale, names.slice(0, MAX_LISTED));
  return { say: names.length === 1 ? 'oneDevice' : 'devices', params: { count: names.length, names: listed }, outcome: 'LISTED' };
});

register('DeviceStatusIntent', async (turn): Promise<Answer> => {
  const device = await deviceSaid(turn);
  const view = (await turn.core.devices.readStates(turn.ctx, [device.name])).devices[0];
  const facts = view ? stateFacts(turn.locale, view.reported, slotValue(turn, 'property')?.id) : [];
  const about = { device: device.name, outcome: 'STATUS' };
  if (facts.length === 0) return { say: 'noState', params: { device: spokenName(device) }, ...about };
  return { say: view?.online ? 'status' : 'offlineStatus', params: { device: spokenName(device), facts: listOf(turn.locale, facts) }, ...about };
});

const ago = (turn: Turn, what: string, at: Date): string => {
  const minutes = Math.max(1, Math.round((Date.now() - at.getTime()) / 60_000));
  if (minutes < 120) return say(turn.locale, 'minutesAgo', { what, n: minutes });
  const hours = Math.round(minutes / 60);
  return hours < 48 ? say(turn.locale, 'hoursAgo', { what, n: hours }) : say(turn.locale, 'daysAgo', { what, n: Math.round(hours / 24) });
};

register('RecentEventsIntent', async (turn): Promise<Answer> => {
  const device = await deviceSaid(turn);
  const events = await turn.core.deviceEvents.recentSummary(turn.ctx, device.name);
  const about = { device: device.name, outcome: 'EVENTS' };
  if (events.length === 0) return { say: 'noEvents', params: { device: spokenName(device) }, ...about };
  const spoken = events.map((e) => ago(turn, e.kind.replace(/[/_.-]+/g, ' '), e.receivedAt));
  return { say: 'events', params: { device: spokenName(device), events: listOf(turn.locale, spoken) }, ...about };
});

register('RunCapabilityIntent', async (turn) => {
  const scene = await sceneSaidAsDevice(turn);
  return scene ? activateScene(turn, scene) : runCapability(turn);
});
register('ActivateSceneIntent', activateSceneIntent);
