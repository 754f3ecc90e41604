import type { MqttClient } from 'mqtt';
import { connect, subscribe } from './mqtt.js';

export type AnsweringDevice = {
  client: MqttClient;
  /** Commands received, in order. */
  received: { name: string; params: Record<string, unknown> }[];
  /** Answers every command held so far (with `hold`), as the device would once it got round to it. */
  release(): Promise<void>;
  /** Publishes a new retained state. */
  report(change: Record<string, unknown>): Promise<void>;
};

/** What the catalogue's switch and lock commands do to the state a device reports. */
function apply(state: Record<string, unknown>, command: string): void {
  if (command === 'turn_on' || command === 'turn_off') state.on = command === 'turn_on';
  if (command === 'lock' || command === 'unlock') state.locked = command === 'lock';
}

/**
 * A real MQTT.js device: it reports `state` (retained), and answers each
 * command by reporting the state the command gave it and then `{ status: "ok" }`;
 * with `hold`, only when the test calls release().
 */
export async function answeringDevice(url: string, credential: { username: string; password: string }, name: string, state: Record<string, unknown>, options: { hold?: boolean } = {}): Promise<AnsweringDevice> {
  const client = await connect(url, { username: credential.username, password: credential.password, clientId: `${name}-client` });
  const received: AnsweringDevice['received'] = [];
  const held: { topic: string; name: string }[] = [];
  const report = (change: Record<string, unknown>) => client.publishAsync(`devices/${name}/state`, JSON.stringify(Object.assign(state, change)), { qos: 1, retain: true }).then(() => undefined);
  const answer = async (topic: string, command: string) => {
    apply(state, command);
    await report({});
    await client.publishAsync(`${topic}/result`, JSON.stringify({ status: 'ok' }), { qos: 1 });
  };
  client.on('message', (topic, payload) => {
    const command = JSON.parse(payload.toString()) as { name: string; params: Record<string, unknown> };
    received.push(command);
    if (options.hold) held.push({ topic, name: command.name });
    else void answer(topic, command.name);
  });
  await subscribe(client, `devices/${name}/commands/+`, 1);
  await report({});
  return {
    client, received, report,
    async release() {
      for (const command of held.splice(0)) await answer(command.topic, command.name);
    },
  };
}
