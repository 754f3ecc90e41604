import { Type } from '@fastify/type-provider-typebox';

/**
 * `confirm`: the mobile channel's `confirm` obligation on admin changes
 * (src/core/policy/confirmation.ts), in a body, or as `?confirm=true` where a
 * request has none (DELETE, a secret's rotation).
 */
export const Confirm = Type.Optional(Type.Boolean({ description: 'Required (true) from the mobile channel: an admin change there needs an explicit confirmation (else 403 CONFIRMATION_REQUIRED).' }));
