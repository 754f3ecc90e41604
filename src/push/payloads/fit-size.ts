import { GatewayError } from '../../core/errors.js';

/**
 * The largest rendering that fits `limitBytes`: the body is shortened (at a
 * code point, with an ellipsis) before anything else; then each fallback
 * (fewer optional fields) is tried in turn. APNs refuses more than 4096 bytes
 * (413 PayloadTooLarge) and FCM more than 4096 (INVALID_ARGUMENT).
 */
export function fitToLimit<T>(
  renderings: ReadonlyArray<(body: string) => T>,
  body: string,
  measure: (rendered: T) => number,
  limitBytes: number,
): T {
  const points = Array.from(body);
  for (const render of renderings) {
    const whole = render(body);
    if (measure(whole) <= limitBytes) return whole;
    const fitted = longestFitting(points, (kept) => render(shortened(points, kept)), measure, limitBytes);
    if (fitted !== undefined) return fitted;
  }
  throw new GatewayError('PAYLOAD_TOO_LARGE', `The notification does not fit in ${limitBytes} bytes even without its body.`, { limitBytes });
}

function shortened(points: string[], kept: number): string {
  return kept >= points.length ? points.join('') : `${points.slice(0, kept).join('').trimEnd()}…`;
}

/** Binary search for the most code points of the body that still fit. */
function longestFitting<T>(points: string[], render: (kept: number) => T, measure: (rendered: T) => number, limit: number): T | undefined {
  let low = 0;
  let high = points.length - 1;
  let best: T | undefined;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const rendered = render(middle);
    if (measure(rendered) <= limit) {
      best = rendered;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return best;
}

export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}
