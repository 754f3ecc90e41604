import { Fifo } from './aedes-tuning/fifo.js';

type Callback = (error?: Error | null) => void;
type Slot = { callback: Callback; done: boolean; error: Error | null | undefined };

/**
 * aedes authorizes the publishes of one read concurrently and routes each as
 * soon as its authorizePublish answers. Most answer at once, but QoS 1
 * telemetry waits for its group commit and events for their insert: a marker
 * event overtook the telemetry sent before it, and watchers of both topics saw
 * one client's messages out of order. Answers are released here in the order
 * the publishes arrived, so a client's messages are routed as it sent them
 * (MQTT's ordered topics [MQTT-4.6.0-6], and across its topics too).
 */
export class ArrivalOrder {
  private readonly waiting = new Fifo<Slot>();

  /** The callback to answer in place of `callback`: it is called once every earlier publish has been answered. */
  admit(callback: Callback): Callback {
    const slot: Slot = { callback, done: false, error: undefined };
    this.waiting.push(slot);
    return (error) => {
      slot.done = true;
      slot.error = error;
      this.release();
    };
  }

  private release(): void {
    // Re-entrant: a released callback may let aedes read on and admit (and answer) the next publish.
    for (let head = this.waiting.peek(); head?.done; head = this.waiting.peek()) {
      this.waiting.shift();
      head.callback(head.error);
    }
  }
}
