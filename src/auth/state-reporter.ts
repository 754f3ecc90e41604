import { scopesForChannel } from '../core/policy/capability-matrix.js';
import type { Channel, TenantContext } from './context.js';
import { issueContext } from './issue-context.js';

/**
 * The context a voice platform's state reporter reads a tenant's devices
 * with (Google's Home Graph report state): no person asked, so it is a
 * service of that platform's channel that may only read (viewer), and every
 * read still passes requireAccess and row-level security.
 */
export function stateReporterContext(tenantId: string, platform: Extract<Channel, 'alexa' | 'google'>): TenantContext {
  return issueContext({ tenantId, principal: { kind: 'service', id: `${platform}-state-reporter` }, channel: platform, roles: ['viewer'], scopes: scopesForChannel(platform) });
}
