/**
 * The topic contract of DESIGN.md §2, as a client sees it (relative to its tenant):
 *   devices/<name>/telemetry[/<stream>]           device → gateway, JSON object, stored
 *   devices/<name>/state                          device → gateway, retained last state
 *   devices/<name>/events[/…]                     device alerts
 *   devices/<name>/commands/<commandId>           gateway → device
 *   devices/<name>/commands/<commandId>/result    device → gateway
 */
export type DeviceTopic =
  | { kind: 'telemetry'; device: string; stream: string }
  | { kind: 'state'; device: string }
  | { kind: 'event'; device: string; path: string }
  | { kind: 'command'; device: string; commandId: string }
  | { kind: 'command-result'; device: string; commandId: string };

export function parseDeviceTopic(topic: string): DeviceTopic | undefined {
  const levels = topic.split('/');
  if (levels[0] !== 'devices' || levels.length < 3 || !levels[1]) return undefined;
  const device = levels[1];
  switch (levels[2]) {
    case 'telemetry':
      // A stream is one level or more: devices/x/telemetry/power/phase-1 → "power/phase-1".
      return levels.length === 3 ? { kind: 'telemetry', device, stream: '' } : levels.slice(3).every(Boolean) ? { kind: 'telemetry', device, stream: levels.slice(3).join('/') } : undefined;
    case 'state':
      return levels.length === 3 ? { kind: 'state', device } : undefined;
    case 'events':
      return { kind: 'event', device, path: levels.slice(3).join('/') };
    case 'commands':
      if (levels.length === 4 && levels[3]) return { kind: 'command', device, commandId: levels[3] };
      if (levels.length === 5 && levels[3] && levels[4] === 'result') return { kind: 'command-result', device, commandId: levels[3] };
      return undefined;
    default:
      return undefined;
  }
}

export function commandTopic(device: string, commandId: string): string {
  return `devices/${device}/commands/${commandId}`;
}
