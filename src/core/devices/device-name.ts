import { GatewayError } from '../errors.js';

/**
 * Device names appear as one topic level (`devices/<name>/…`), so they may not
 * hold `/`, `+`, `#` or `@` (the username separator). Same rule as the
 * devices.name CHECK constraint.
 */
export const DEVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function assertDeviceName(name: string): void {
  if (!DEVICE_NAME.test(name)) {
    throw new GatewayError('VALIDATION_FAILED', `Device name "${name}" must be 1-64 characters of A-Z, a-z, 0-9, "_", "." and "-", starting with a letter or digit.`);
  }
}

/** The MQTT username of a device: unique across tenants, readable, and unambiguous (names hold no "@"). */
export function deviceUsername(name: string, tenantSlug: string): string {
  return `${name}@${tenantSlug}`;
}
