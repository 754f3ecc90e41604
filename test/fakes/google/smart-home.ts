import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';

/**
 * Google's smart-home requests, built as its documentation shows them
 * (https://developers.home.google.com/cloud-to-cloud/intents/sync, query, execute, disconnect):
 * a fresh requestId, one input with the intent and its payload, only a bearer token as proof.
 */
export type Execution = { command: string; params?: Record<string, unknown>; challenge?: { pin?: string; ack?: boolean } };

export const googleRequests = {
  sync: () => ({ requestId: randomUUID(), inputs: [{ intent: 'action.devices.SYNC' }] }),
  query: (ids: string[]) => ({ requestId: randomUUID(), inputs: [{ intent: 'action.devices.QUERY', payload: { devices: ids.map((id) => ({ id })) } }] }),
  execute: (commands: { ids: string[]; execution: Execution[] }[], requestId: string = randomUUID()) => ({
    requestId,
    inputs: [{ intent: 'action.devices.EXECUTE', payload: { commands: commands.map(({ ids, execution }) => ({ devices: ids.map((id) => ({ id })), execution })) } }],
  }),
  disconnect: () => ({ requestId: randomUUID(), inputs: [{ intent: 'action.devices.DISCONNECT' }] }),
};

const schema = JSON.parse(readFileSync(new URL('./smart-home-responses.schema.json', import.meta.url), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
ajv.addSchema(schema);

export type Intent = 'sync' | 'query' | 'execute' | 'disconnect';

/** Throws naming every way `body` differs from Google's documented response for the intent. */
export function assertGoogleShape(intent: Intent, body: unknown): void {
  const validate = ajv.getSchema(`https://gatehouse.test/google/smart-home-responses.schema.json#/definitions/${intent}Response`)!;
  if (!validate(body)) throw new Error(`not a Google ${intent.toUpperCase()} response: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body, null, 2)}`);
}
