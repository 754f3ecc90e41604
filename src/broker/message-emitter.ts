import mqemitter from 'mqemitter';
import type { MessageEmitter } from '../fleet/fleet.js';
import { Fifo } from './fifo.js';

/**
 * The emitter each tenant's aedes routes with: mqemitter 7.1.0 (pinned), its
 * backlog queues swapped for O(1) FIFOs (fifo.ts). aedes takes its emitter as
 * an option, so the fix needs no fork.
 */
export function createMessageEmitter(concurrency: number): MessageEmitter {
  const emitter = mqemitter({ concurrency, matchEmptyLevels: true }) as unknown as { _messageQueue: unknown; _messageCallbacks: unknown };
  if (!Array.isArray(emitter._messageQueue) || !Array.isArray(emitter._messageCallbacks)) {
    throw new Error('mqemitter internals changed: review src/broker/message-emitter.ts before upgrading it');
  }
  emitter._messageQueue = new Fifo();
  emitter._messageCallbacks = new Fifo();
  return emitter as unknown as MessageEmitter;
}
