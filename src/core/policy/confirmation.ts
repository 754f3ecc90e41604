import { GatewayError } from '../errors.js';
import type { AccessGrant } from './access-policy.js';

/**
 * The matrix's `confirm` obligation for administrative actions (mobile's L
 * cells: registering, changing, removing devices, purging): the request must
 * say so explicitly, as sensitive commands do (`confirm: true`), so that a
 * stray tap or a replayed request of an app does not do it. Web's F cells ask
 * for nothing.
 */
export function requireConfirmation(grant: Pick<AccessGrant, 'obligations'>, confirmed: boolean | undefined, what: string): void {
  if (grant.obligations.includes('confirm') && confirmed !== true) {
    throw new GatewayError('CONFIRMATION_REQUIRED', `${what} from this channel must be confirmed: send it again with "confirm": true.`, { confirm: true });
  }
}
