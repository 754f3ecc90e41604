import { randomUUID } from 'node:crypto';

export type Slots = Record<string, string | { value: string; id: string }>;
export type SkillRequestOptions = { skillId: string; token?: string; locale?: string; timestamp?: Date; requestId?: string };

/**
 * A custom-skill request envelope as Alexa sends it
 * (https://developer.amazon.com/en-US/docs/alexa/custom-skills/request-and-response-json-reference.html):
 * the skill id and the linked account's token in context.System and in the session.
 */
export function skillRequest(type: 'LaunchRequest' | 'IntentRequest' | 'SessionEndedRequest', o: SkillRequestOptions, intent?: { name: string; slots?: Slots }): Record<string, unknown> {
  const user = { userId: 'amzn1.ask.account.TEST', ...(o.token ? { accessToken: o.token } : {}) };
  const application = { applicationId: o.skillId };
  const slots = Object.fromEntries(Object.entries(intent?.slots ?? {}).map(([name, slot]) => {
    const { value, id } = typeof slot === 'string' ? { value: slot, id: undefined } : slot;
    const resolutions = id ? { resolutionsPerAuthority: [{ authority: `amzn1.er-authority.echo-sdk.${o.skillId}.X`, status: { code: 'ER_SUCCESS_MATCH' }, values: [{ value: { name: value, id } }] }] } : undefined;
    return [name, { name, value, confirmationStatus: 'NONE', ...(resolutions ? { resolutions } : {}) }];
  }));
  const request = {
    type, requestId: o.requestId ?? `amzn1.echo-api.request.${randomUUID()}`, timestamp: (o.timestamp ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'), locale: o.locale ?? 'en-US',
    ...(intent ? { dialogState: 'STARTED', intent: { name: intent.name, confirmationStatus: 'NONE', slots } } : {}),
    ...(type === 'SessionEndedRequest' ? { reason: 'USER_INITIATED' } : {}),
  };
  return {
    version: '1.0',
    session: { new: type === 'LaunchRequest', sessionId: `amzn1.echo-api.session.${randomUUID()}`, application, user },
    context: { System: { application, user, device: { deviceId: 'amzn1.ask.device.TEST', supportedInterfaces: {} }, apiEndpoint: 'https://api.amazonalexa.com' } },
    request,
  };
}
