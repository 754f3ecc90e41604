import type { Device } from '../../core/devices/device-registry.js';

const normal = (text: string) => text.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
  .replace(/[^a-z0-9äöüß ]+/g, ' ').replace(/\b(the|my|der|die|das|den|dem|mein|meine|meinen)\b/g, ' ').replace(/\s+/g, ' ').trim();

/** What people call a device: its display name, nicknames, and its name with separators as spaces. */
export const spokenNames = (device: Pick<Device, 'name' | 'displayName' | 'nicknames'>): string[] =>
  [device.displayName, ...device.nicknames, device.name.replace(/[._-]+/g, ' ')].filter((n): n is string => Boolean(n));

export const spokenName = (device: Pick<Device, 'name' | 'displayName'>): string => device.displayName ?? device.name.replace(/[._-]+/g, ' ');

/**
 * The one of `items` a spoken name means: an exact match of one of its names
 * first, then one whose name contains what was said (or the reverse), when
 * only one does.
 */
export function matchSpoken<T>(items: readonly T[], namesOf: (item: T) => string[], said: string): T | undefined {
  const wanted = normal(said);
  if (!wanted) return undefined;
  const named = items.map((item) => ({ item, names: namesOf(item).map(normal) }));
  const exact = named.filter(({ names }) => names.includes(wanted));
  if (exact.length === 1) return exact[0]!.item;
  const near = named.filter(({ names }) => names.some((n) => n.includes(wanted) || wanted.includes(n)));
  return near.length === 1 ? near[0]!.item : undefined;
}

/** The device a spoken name means, among the caller's active devices. Another tenant's devices are never in `devices`. */
export function matchDevice<D extends Pick<Device, 'name' | 'displayName' | 'nicknames' | 'status'>>(devices: readonly D[], said: string): D | undefined {
  return matchSpoken(devices.filter((d) => d.status === 'active'), spokenNames, said);
}
