import { describe, expect, it } from 'vitest';
import { sampleValue } from '../support/metrics.js';

const TEXT = `# HELP gatehouse_rejected_total Rejected.
# TYPE gatehouse_rejected_total counter
gatehouse_rejected_total{reason="not_json"} 10
gatehouse_rejected_total{reason="not_json",tenant="a"} 1
gatehouse_rejected_total{reason="say \\"hi\\""} 3
# TYPE gatehouse_mqtt_connections gauge
gatehouse_mqtt_connections 2
# TYPE gatehouse_batch_rows histogram
gatehouse_batch_rows_bucket{le="+Inf"} 4
gatehouse_batch_rows_sum 500
gatehouse_batch_rows_count 4
`;

describe('the metric test helper', () => {
  it('matches the exact name and label set, never a prefix of the value or a superset of the labels', () => {
    expect(sampleValue(TEXT, 'gatehouse_rejected_total', { reason: 'not_json' })).toBe(10);
    expect(sampleValue(TEXT, 'gatehouse_rejected_total', { reason: 'not_json', tenant: 'a' })).toBe(1);
    expect(sampleValue(TEXT, 'gatehouse_rejected_total', { reason: 'say "hi"' })).toBe(3);
    expect(sampleValue(TEXT, 'gatehouse_mqtt_connections')).toBe(2);
    expect(sampleValue(TEXT, 'gatehouse_batch_rows_count')).toBe(4);
    expect(sampleValue(TEXT, 'gatehouse_batch_rows_bucket', { le: '+Inf' })).toBe(4);
  });

  it('reads 0 for a declared series not yet seen, and fails on an undeclared name', () => {
    expect(sampleValue(TEXT, 'gatehouse_rejected_total', { reason: 'too_large' })).toBe(0);
    expect(() => sampleValue(TEXT, 'gatehouse_rejected')).toThrow(/no metric gatehouse_rejected/);
    expect(() => sampleValue(TEXT, 'gatehouse_mqtt_connection')).toThrow(/no metric/);
  });
});
