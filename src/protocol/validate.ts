/**
 * Checks a value against the payload schema (schema.ts) with the validator that ajv's standalone
 * code generation made from it at build time (scripts/generate-validator.ts): ajv's checks and
 * wording, without compiling a schema or loading ajv's compiler when a program starts.
 */
import type { ErrorObject } from 'ajv';
import { validate } from './generated/payload-validator.js';

/** The generated validator, typed: true for a valid payload, else its errors are set. */
const validatePayload = validate as ((value: unknown) => boolean) & {
  errors?: ErrorObject[] | null;
};

/** The first way `value` breaks the payload schema (`<path>: <message>`), or undefined when valid. */
export function schemaProblem(value: unknown): string | undefined {
  if (validatePayload(value)) return undefined;
  const error = validatePayload.errors?.[0];
  return `${error?.instancePath || '/'}: ${error?.message ?? 'must match the payload schema'}`;
}
