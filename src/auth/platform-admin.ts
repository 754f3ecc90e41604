import { GatewayError } from '../core/errors.js';
import type { Caller } from './request-context.js';

/**
 * Platform administrators manage tenants; that role alone grants no access to
 * any tenant's data (they would need a membership, like anyone else).
 * Voice tokens never carry it.
 */
export function assertPlatformAdmin(caller: Caller): void {
  if (!caller.platformAdmin || (caller.claims.channel !== 'web' && caller.claims.channel !== 'mobile')) {
    throw new GatewayError('POLICY_DENIED', 'Only platform administrators may do this.');
  }
}
