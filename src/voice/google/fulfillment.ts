import type { IntentHandler } from './intents/intent.js';
import { disconnect } from './intents/disconnect.js';
import { execute } from './intents/execute.js';
import { query } from './intents/query.js';
import { sync } from './intents/sync.js';
import type { Intent } from './intents/intent.js';

/** The smart-home intents by name (Home Assistant's google_assistant/smart_home.py HANDLERS). */
const HANDLERS: Readonly<Record<string, IntentHandler>> = {
  'action.devices.SYNC': sync,
  'action.devices.QUERY': query,
  'action.devices.EXECUTE': execute,
  'action.devices.DISCONNECT': disconnect,
};

export type GoogleRequest = { requestId: string; inputs: { intent: string; payload?: Record<string, unknown> }[] };

/** The intent's short name for metrics: only those we serve, so a caller cannot mint label values. */
export function intentName(body: GoogleRequest): string {
  const intent = body.inputs[0]!.intent;
  return Object.hasOwn(HANDLERS, intent) ? intent.replace('action.devices.', '') : 'unknown';
}

/** One request, one intent (Google sends one input); an intent we do not serve is answered, not failed. */
export async function fulfill(intent: Omit<Intent, 'requestId'>, body: GoogleRequest): Promise<Record<string, unknown>> {
  const input = body.inputs[0]!;
  const handler = HANDLERS[input.intent];
  if (!handler) return { requestId: body.requestId, payload: { errorCode: 'notSupported', debugString: `Unknown intent ${input.intent}.` } };
  const payload = await handler({ ...intent, requestId: body.requestId }, input.payload ?? {});
  return payload === null ? {} : { requestId: body.requestId, payload };
}
