import { randomUUID } from 'node:crypto';

/**
 * Smart Home API v3 messages as Alexa sends and expects them
 * (https://developer.amazon.com/docs/device-apis/message-guide.html).
 */
export type Header = { namespace: string; name: string; payloadVersion: '3'; messageId: string; correlationToken?: string; instance?: string };
export type Scope = { type: 'BearerToken'; token: string };
export type Directive = {
  directive: {
    header: Header;
    endpoint?: { endpointId: string; scope?: Scope; cookie?: Record<string, string> };
    payload: Record<string, unknown> & { scope?: Scope };
  };
};
export type Property = { namespace: string; instance?: string; name: string; value: unknown; timeOfSample: string; uncertaintyInMilliseconds: number };
export type Event = {
  event: { header: Header; endpoint?: { endpointId: string; scope?: Scope }; payload: Record<string, unknown> };
  context?: { properties: Property[] };
};

/** What a handler answers: the event's name and payload (Response by default), and the state it reports. */
export type Reply = { namespace?: string; name?: string; payload?: Record<string, unknown>; properties?: Property[]; withoutEndpoint?: boolean };

/** The bearer token Alexa put in the directive: the endpoint's scope, the payload's for Discovery, the grantee for AcceptGrant. */
export function tokenOf(directive: Directive['directive']): string | undefined {
  const scope = directive.endpoint?.scope ?? directive.payload.scope ?? (directive.payload.grantee as Scope | undefined);
  return scope?.type === 'BearerToken' && typeof scope.token === 'string' ? scope.token : undefined;
}

function header(request: Header, namespace: string, name: string): Header {
  return {
    namespace, name, payloadVersion: '3', messageId: randomUUID(),
    // Every answer to a directive that carried one carries it back.
    ...(request.correlationToken ? { correlationToken: request.correlationToken } : {}),
  };
}

export function eventFor(directive: Directive['directive'], reply: Reply): Event {
  const endpointId = directive.endpoint?.endpointId;
  return {
    event: {
      header: header(directive.header, reply.namespace ?? 'Alexa', reply.name ?? 'Response'),
      ...(endpointId && !reply.withoutEndpoint ? { endpoint: { endpointId } } : {}),
      payload: reply.payload ?? {},
    },
    ...(reply.properties ? { context: { properties: reply.properties } } : {}),
  };
}

/** Alexa.ErrorResponse, or an interface's own (Alexa.SecurityPanelController), with the fields its type requires. */
export function errorEvent(directive: Directive['directive'], error: { namespace?: string; type: string; message: string; extra?: Record<string, unknown> }): Event {
  return eventFor(directive, { namespace: error.namespace ?? 'Alexa', name: 'ErrorResponse', payload: { type: error.type, message: error.message, ...error.extra } });
}

/** What an event answers, for audit and metrics: its name, or the error type. */
export const outcomeOf = (event: Event): string => (event.event.header.name === 'ErrorResponse' ? String(event.event.payload.type) : event.event.header.name);
