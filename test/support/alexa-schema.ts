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

let validate: ValidateFunction | undefined;

/** Amazon's own schema of every Smart Home message (test/fixtures/alexa-smart-home). */
export function alexaMessageErrors(message: unknown): string | undefined {
  if (!validate) {
    const schema = JSON.parse(readFileSync(new URL('../fixtures/alexa-smart-home/alexa_smart_home_message_schema.json', import.meta.url), 'utf8')) as unknown;
    const ajv = new Ajv({ strict: false, allErrors: false, unicodeRegExp: false });
    (addFormats as unknown as (a: Ajv) => void)(ajv);
    ajv.addFormat('double', true);
    validate = ajv.compile(forAjv8(schema) as object);
  }
  if (validate(message)) return undefined;
  return JSON.stringify(validate.errors?.slice(0, 5));
}
