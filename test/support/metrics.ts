/**
 * Reading one number out of a Prometheus text exposition, exactly: the sample
 * whose name is `name` and whose label set is exactly `labels` (no more, no
 * fewer), so that `{reason="a"} 1` never matches `{reason="a"} 10` or a series
 * with an extra label. https://prometheus.io/docs/instrumenting/exposition_formats/
 */

type Sample = { name: string; labels: Record<string, string>; value: number };

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const match = LABEL.exec(text);
    if (!match) throw new Error(`unparseable label set {${text}}`);
    labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

function parseValue(text: string): number {
  if (/^\+?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  // prom-client writes NaN as "Nan".
  if (/^nan$/i.test(text)) return NaN;
  const value = Number(text);
  if (Number.isNaN(value)) throw new Error(`unparseable sample value ${text}`);
  return value;
}

export function samples(text: string): Sample[] {
  const found: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`unparseable exposition line: ${line}`);
    found.push({ name: match[1]!, labels: match[2] ? parseLabels(match[2]) : {}, value: parseValue(match[3]!) });
  }
  return found;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

/** The family a sample name belongs to: a histogram's `_bucket`, `_sum` and `_count` name no family of their own. */
function declared(text: string, name: string): boolean {
  const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  return families.has(name) || families.has(name.replace(/_(?:bucket|sum|count)$/, ''));
}

/**
 * The value of one series in an exposition. 0 when the metric is declared but
 * that label set has no sample yet (prom-client shows a labelled counter only
 * once it is incremented); an error when the metric is not declared at all,
 * so that a misspelt name fails rather than reading 0.
 */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number {
  if (!declared(text, name)) throw new Error(`no metric ${name} in the exposition`);
  const matches = samples(text).filter((s) => s.name === name && sameLabels(s.labels, labels));
  if (matches.length > 1) throw new Error(`${matches.length} samples of ${name}${JSON.stringify(labels)}`);
  return matches[0]?.value ?? 0;
}

/** `source`: a gateway's base URL (its /metrics is fetched) or an exposition's text. */
export async function metric(source: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = /^https?:\/\/\S+$/.test(source) ? await (await fetch(`${source}/metrics`)).text() : source;
  return sampleValue(text, name, labels);
}
