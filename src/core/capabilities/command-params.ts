import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { GatewayError } from '../errors.js';

type SchemaError = { keyword: string; instancePath: string; params: Record<string, unknown>; message: string };

/** The parameter an error is about: the property at fault, or the one missing or unexpected. */
function parameterOf(error: SchemaError): string {
  const path = error.instancePath.split('/').filter(Boolean).join('.');
  if (path) return path;
  const named = (error.params.requiredProperties ?? error.params.additionalProperties) as string[] | undefined;
  return named?.[0] ?? '';
}

function reasonOf(error: SchemaError): string {
  if (error.keyword === 'required') return 'is required';
  if (error.keyword === 'additionalProperties' || error.keyword === 'boolean') return 'is not a parameter of this command';
  if (error.keyword === 'anyOf' || error.keyword === 'enum') return 'is not one of the allowed values';
  return error.message;
}

/**
 * `params` checked against a command's schema; a refusal is VALIDATION_FAILED
 * naming the command and the parameter (`details.parameter`), so a voice
 * adapter can answer with the platform's "value out of range" error.
 */
export function checkParams(command: string, schema: TSchema, params: unknown): void {
  if (Value.Check(schema, params)) return;
  const errors = Value.Errors(schema, params) as unknown as SchemaError[];
  // The most specific error: one about a named parameter, rather than the object as a whole.
  const error = errors.find((e) => e.instancePath !== '' && e.keyword !== 'boolean') ?? errors.find((e) => parameterOf(e) !== '') ?? errors[0];
  const parameter = error ? parameterOf(error) : '';
  const message = parameter
    ? `${command}: parameter "${parameter}" ${error ? reasonOf(error) : 'is invalid'}.`
    : `${command}: the parameters must be an object.`;
  throw new GatewayError('VALIDATION_FAILED', message, parameter ? { command, parameter } : { command });
}
