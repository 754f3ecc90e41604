import { describe, expect, it } from 'vitest';
import { isValidTopicFilter } from '../../src/core/topic-filter.js';

describe('isValidTopicFilter [MQTT-4.7.1]', () => {
  it.each(['#', '+', 'devices/+/telemetry', 'devices/#', 'a/b/c', '+/+/#', '/leading'])('accepts %s', (filter) => {
    expect(isValidTopicFilter(filter)).toBe(true);
  });
  it.each(['', 'a/#/b', 'a#', 'a/b+', 'sport+', `x${'\u0000'}y`, 'a/'.repeat(40_000)])('rejects %j', (filter) => {
    expect(isValidTopicFilter(filter)).toBe(false);
  });
});
