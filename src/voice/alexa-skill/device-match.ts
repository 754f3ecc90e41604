import type { Device } from '../../core/devices/device-registry.js';

const normal = (text: string) => text.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
  .replace(/[^a-z0-9äöüß ]+/g, ' ').replace(/\b(the|my|der|die|das|den|dem|mein|meine|meinen)\b/g, ' ').replace(/\s+/g, ' ').trim();

/** What people call a device: its display name, nicknames, and its name with separators as spaces. */
export const spokenNames = (device: Pick<Device, 'name' | 'displayName' | 'nicknames'>): string[] =>
  [device.displayName, ...device.nicknames, device.name.replace(/[._-]+/g, ' ')].filter((n): n is string => Boolean(n)).map(normal);

export const spokenName = (device: Pick<Device, 'name' | 'displayName'>): string => device.displayName ?? device.name.replace(/[._-]+/g, ' ');

/**
 * The device a spoken name means, among the caller's active devices: an exact
 * match first, then one whose name contains what was said (or the reverse),
 * when only one does. Another tenant's devices are never in `devices`.
 */
export function matchDevice<D extends Pick<Device, 'name' | 'displayName' | 'nicknames' | 'status'>>(devices: readonly D[], said: string): D | undefined {
  const wanted = normal(said);
  if (!wanted) return undefined;
  const active = devices.filter((d) => d.status === 'active');
  const exact = active.filter((d) => spokenNames(d).includes(wanted));
  if (exact.length === 1) return exact[0];
  const near = active.filter((d) => spokenNames(d).some((n) => n.includes(wanted) || wanted.includes(n)));
  return near.length === 1 ? near[0] : undefined;
}
