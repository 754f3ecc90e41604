import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/** Draft-04 → what ajv 8 reads: `exclusiveM…: false` means nothing (every one in Amazon's file is false), `$schema` names a draft ajv 8 lacks. */
function forAjv8(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(forAjv8);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if ((key === 'exclusiveMinimum' || key === 'exclusiveMaximum') && value === false) continue;
    if (key === 'exclusiveMinimum' || key === 'exclusiveMaximum') throw new Error(`draft-04 ${key}: ${String(value)} needs converting`);
    if (key === '$schema') continue;
    out[key] = forAjv8(value);
  }
  return out;
}

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/alexa-smart-home/${name}`, import.meta.url), 'utf8')) as unknown;

function compiler(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: false, unicodeRegExp: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  ajv.addFormat('double', true);
  return ajv;
}

let ours: ValidateFunction | undefined;
let amazons: ValidateFunction | undefined;

/** Gatehouse's own schema, written from the Smart Home API reference (draft-07, read as it is). */
export function gatehouseSchemaErrors(message: unknown): string | undefined {
  ours ??= compiler().compile(fixture('gatehouse-smart-home.schema.json') as object);
  return ours(message) ? undefined : JSON.stringify(ours.errors?.slice(0, 5));
}

/** Amazon's published schema (alexa_smart_home_message_schema.json, draft-04 converted). */
export function amazonSchemaErrors(message: unknown): string | undefined {
  amazons ??= compiler().compile(forAjv8(fixture('alexa_smart_home_message_schema.json')) as object);
  return amazons(message) ? undefined : JSON.stringify(amazons.errors?.slice(0, 5));
}

/**
 * Every Smart Home message against both schemas (test/fixtures/alexa-smart-home): ours first, then Amazon's.
 * Undefined when both accept it; otherwise which rejected it and why.
 */
export function alexaMessageErrors(message: unknown): string | undefined {
  const failures = [
    ['Gatehouse schema (gatehouse-smart-home.schema.json)', gatehouseSchemaErrors(message)],
    ["Amazon's schema (alexa_smart_home_message_schema.json)", amazonSchemaErrors(message)],
  ].filter((failure): failure is [string, string] => failure[1] !== undefined);
  return failures.length ? failures.map(([schema, errors]) => `${schema}: ${errors}`).join('\n') : undefined;
}
