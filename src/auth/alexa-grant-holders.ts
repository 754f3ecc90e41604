import type { Database } from '../db/database.js';
import type { Role, TenantContext } from './context.js';
import { issueContext } from './issue-context.js';

/** A person who let Alexa receive events for them, as the Alexa context their link gives them, and the skill. */
export type AlexaGrantHolder = { ctx: TenantContext; skillId: string };

/**
 * The people of a tenant whose Alexa grant may still be used, each as the
 * context their Alexa link would give a directive (a voice principal on
 * channel alexa with their role now): the grant is a stored credential, and
 * like a token it counts only while the person is an active member of an
 * active tenant and the Gatehouse session Alexa's link holds is not revoked
 * (request-context.ts applies the same checks to a directive's token).
 */
export async function alexaGrantHolders(db: Database, tenantId: string): Promise<AlexaGrantHolder[]> {
  const rows = await db.platformQuery<{ user_id: string; skill_id: string; role: Role; scopes: string[] }>(
    // The scopes the person granted Alexa (the link's newest refresh token), not the channel's widest.
    `SELECT g.user_id, g.skill_id, m.role,
            (SELECT r.scopes FROM refresh_tokens r WHERE r.family_id = g.session_id ORDER BY r.created_at DESC LIMIT 1) AS scopes
       FROM alexa_grants g
       JOIN users u ON u.id = g.user_id AND u.status = 'active'
       JOIN memberships m ON m.user_id = g.user_id AND m.tenant_id = g.tenant_id
       JOIN tenants t ON t.id = g.tenant_id AND t.status = 'active'
      WHERE g.tenant_id = $1
        AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = g.session_id AND r.revoked_at IS NOT NULL)`,
    [tenantId],
  );
  return rows.filter((row) => row.scopes !== null).map((row) => ({
    skillId: row.skill_id,
    ctx: issueContext({ tenantId, principal: { kind: 'voice', id: row.user_id }, channel: 'alexa', roles: [row.role], scopes: row.scopes }),
  }));
}
