import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { CAPABILITIES, CAPABILITY_NAMES, DEVICE_TYPES } from '../../core/capabilities/catalogue.js';
import type { CapabilityDefinition } from '../../core/capabilities/capability.js';
import { RISK_CLASSES } from '../../core/capabilities/risk.js';

const Catalogue = Type.Object({
  deviceTypes: Type.Array(Type.String()),
  capabilities: Type.Array(Type.Object({
    name: Type.String(),
    description: Type.String(),
    commands: Type.Array(Type.Object({
      name: Type.String(), description: Type.String(),
      risk: Type.Union(RISK_CLASSES.map((risk) => Type.Literal(risk))),
      params: Type.Unknown({ description: 'JSON Schema of the command\'s params, with examples.' }),
    })),
    state: Type.Record(Type.String(), Type.Unknown({ description: 'JSON Schema of the state field.' })),
  })),
});

/** The catalogue as JSON Schema, for clients that build forms or check commands before sending them. */
const document = {
  deviceTypes: [...DEVICE_TYPES],
  capabilities: CAPABILITY_NAMES.map((name) => {
    const capability = CAPABILITIES[name] as CapabilityDefinition;
    return {
      name, description: capability.description,
      commands: Object.entries(capability.commands).map(([command, spec]) => ({ name: command, description: spec.description, risk: spec.risk, params: spec.params })),
      state: capability.state,
    };
  }),
};

/** The capability catalogue (registered inside deviceRoutes, which authenticates). */
export const capabilityRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/v1/capabilities', {
    schema: {
      tags: ['devices'], summary: 'The capability catalogue: device types, and per capability its commands (parameter schema, risk class) and state fields.',
      response: { 200: Catalogue, 401: { $ref: 'ErrorResponse#' } },
    },
  }, async () => document);
};
