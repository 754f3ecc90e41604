import { describe, expect, it } from 'vitest';
import { alexaMessageErrors, gatehouseSchemaErrors } from '../support/alexa-schema.js';

const AT = '2026-12-03T15:00:00.000Z';
const ENDPOINT = '0190f3a4-7c1e-7000-8000-000000000002';

/** A minimal correct Alexa.Response to TurnOn (https://developer.amazon.com/docs/device-apis/alexa-response.html). */
const response = () => ({
  event: {
    header: { namespace: 'Alexa', name: 'Response', payloadVersion: '3', messageId: 'a3f0c1d2-0000-4000-8000-000000000001', correlationToken: 'token-from-the-directive' },
    endpoint: { endpointId: ENDPOINT },
    payload: {} as Record<string, unknown>,
  },
  context: {
    properties: [{ namespace: 'Alexa.PowerController', name: 'powerState', value: 'ON', timeOfSample: AT, uncertaintyInMilliseconds: 0 }] as Record<string, unknown>[],
  },
});

const error = (type: string) => {
  const message = response();
  message.event.header.name = 'ErrorResponse';
  message.event.payload = { type, message: 'no' };
  return { event: message.event };
};

describe("Gatehouse's own schema of Smart Home API v3 messages", () => {
  it('accepts a minimal correct Response, and so does alexaMessageErrors (both schemas)', () => {
    expect(gatehouseSchemaErrors(response())).toBeUndefined();
    expect(alexaMessageErrors(response())).toBeUndefined();
    expect(gatehouseSchemaErrors(error('ENDPOINT_UNREACHABLE'))).toBeUndefined();
  });

  it('rejects payloadVersion "2"', () => {
    const message = response();
    (message.event.header as Record<string, unknown>).payloadVersion = '2';
    expect(gatehouseSchemaErrors(message)).toMatch(/payloadVersion/);
  });

  it('rejects a header without messageId', () => {
    const message = response();
    delete (message.event.header as Partial<typeof message.event.header>).messageId;
    expect(gatehouseSchemaErrors(message)).toMatch(/messageId/);
  });

  it('rejects an ErrorResponse type its namespace does not define', () => {
    expect(gatehouseSchemaErrors(error('DEVICE_ON_FIRE'))).toMatch(/allowed values/);
    // UNAUTHORIZED is Alexa.SecurityPanelController's, not Alexa's.
    expect(gatehouseSchemaErrors(error('UNAUTHORIZED'))).toMatch(/allowed values/);
  });

  it('rejects a timeOfSample that is not an RFC 3339 date-time', () => {
    for (const timeOfSample of ['yesterday', '2026-12-03 15:00', '2026-12-03T15:00:00']) {
      const message = response();
      message.context.properties[0]!.timeOfSample = timeOfSample;
      expect(gatehouseSchemaErrors(message), timeOfSample).toMatch(/date-time/);
    }
  });

  it('rejects a Response without its correlationToken, and says which schema failed', () => {
    const message = response();
    delete (message.event.header as Partial<typeof message.event.header>).correlationToken;
    expect(alexaMessageErrors(message)).toMatch(/^Gatehouse schema .*correlationToken/);
  });
});
