import { GatewayError } from '../errors.js';
import type { AccessGrant } from './access-policy.js';

/**
 * The matrix's `confirm` obligation for administrative changes (seed 003: a
 * mobile admin action needs an explicit confirmation step: registering,
 * changing or removing devices, purging, members, invitations, apps), enforced
 * as commands enforce it (obligations.ts): without `confirm: true` the change
 * is refused with CONFIRMATION_REQUIRED and nothing is written, so that a stray
 * tap or a replayed request of an app does not do it. Web's F cells ask for nothing.
 */
export function requireConfirmation(grant: Pick<AccessGrant, 'obligations'>, confirmed: boolean | undefined, action: string): void {
  if (grant.obligations.includes('confirm') && confirmed !== true) {
    throw new GatewayError('CONFIRMATION_REQUIRED', `${action} from this channel must be confirmed: send it again with "confirm": true.`, { action });
  }
}
