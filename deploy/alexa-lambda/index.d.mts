// Types of index.mjs, for the tests that import it (the Lambda itself needs none).
type AlexaMessage = Record<string, unknown>;
type Fetch = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<Response>;
export function sign(secret: string, timestamp: string, body: string | Buffer): string;
export function errorResponse(directive: unknown, type: string, message: string): AlexaMessage;
export function createHandler(env?: Record<string, string | undefined>, fetchImpl?: Fetch, now?: () => number): (event: unknown) => Promise<AlexaMessage>;
export const handler: (event: unknown) => Promise<AlexaMessage>;
