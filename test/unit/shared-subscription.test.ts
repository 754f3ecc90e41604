import { describe, expect, it } from 'vitest';
import { parseSharedFilter } from '../../src/core/topics/shared-subscription.js';

describe('parseSharedFilter', () => {
  it('reads the group and filter of $share and $queue', () => {
    expect(parseSharedFilter('$share/workers/devices/+/telemetry')).toEqual({ group: 'workers', filter: 'devices/+/telemetry' });
    expect(parseSharedFilter('$share/g/#')).toEqual({ group: 'g', filter: '#' });
    expect(parseSharedFilter('$share/g/$SYS/#')).toEqual({ group: 'g', filter: '$SYS/#' });
    expect(parseSharedFilter('$queue/devices/#')).toEqual({ group: '$queue', filter: 'devices/#' });
  });

  it('leaves ordinary filters alone', () => {
    for (const filter of ['devices/#', '#', '$SYS/broker/#', 'share/g/x', '$sharex/g/x']) expect(parseSharedFilter(filter)).toBeUndefined();
  });

  it('calls malformed ones malformed [MQTT-4.8.2-1] [MQTT-4.8.2-2]', () => {
    for (const filter of ['$share/', '$share/g', '$share/g/', '$share//x', '$share/g+/x', '$share/#/x', '$queue/']) expect(parseSharedFilter(filter), filter).toBeNull();
  });
});
