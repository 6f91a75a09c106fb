// The validator generated at build time must be ajv's verdict on the published JSON Schema,
// compiled here at test time, payload for payload and word for word.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { payloadSchema } from '../../../src/protocol/schema.js';
import { schemaProblem } from '../../../src/protocol/validate.js';

const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false }).compile(
  payloadSchema,
);

/** ajv's first problem, worded as schemaProblem words it. */
function ajvProblem(value: unknown): string | undefined {
  if (ajv(value)) return undefined;
  const error = ajv.errors?.[0];
  return `${error?.instancePath || '/'}: ${error?.message}`;
}

/** Strings near every limit and pattern of the schema. */
const edgy = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 70 }),
  fc.string({
    unit: fc.constantFrom('a', 'Z', '0', '-', '_', '😀', '\u001b', '\u202e', '\u0085', ' ', '.'),
    maxLength: 70,
  }),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString().replace('.', '.123456')),
  fc.integer({ min: 60, max: 70 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 30, max: 35 }).map((n) => '😀'.repeat(n)),
);
const value = fc.oneof(
  edgy,
  fc.integer({ min: -3, max: 2 ** 53 + 3 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 2 }),
);
const payloads = fc.record(
  {
    type: fc.oneof(fc.constantFrom('message', 'notice'), value),
    from: fc.oneof(edgy, value),
    message: fc.oneof(edgy, value),
    notice: fc.oneof(edgy, value),
    id: fc.oneof(edgy, value),
    seq: fc.oneof(fc.integer({ min: -3, max: 2 ** 53 + 3 }), value),
    ts: fc.oneof(edgy, value),
    event: fc.oneof(fc.constantFrom('join', 'leave', 'lost', 'closed'), value),
    extra: value,
  },
  { requiredKeys: [] },
);

/** Mostly valid payloads with one or two fields pushed to or over a limit. */
const nearlyValid = fc.record(
  {
    type: fc.constantFrom('message', 'notice'),
    from: fc.oneof(fc.constantFrom('alice', 'bob'), edgy),
    message: fc.string(),
    notice: fc.string(),
    id: fc.oneof(fc.constantFrom('alice-1', 'b_2'), edgy),
    seq: fc.oneof(fc.nat(), fc.integer({ min: -3, max: 2 ** 53 + 3 })),
    ts: fc.oneof(fc.constant('2026-11-22T02:00:00.000Z'), edgy),
    event: fc.constantFrom('join', 'leave', 'lost', 'closed', 'left'),
  },
  { requiredKeys: ['type', 'from'] },
);

describe('payload validator', function () {
  this.timeout(60_000);

  it('accepts and refuses exactly what ajv does with the JSON Schema (20,000 generated payloads)', function () {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(payloads, nearlyValid, fc.jsonValue()), (generated) => {
        const parsed: unknown = JSON.parse(JSON.stringify(generated) ?? 'null');
        const problem = schemaProblem(parsed);
        expect(problem, JSON.stringify(parsed)).to.equal(ajvProblem(parsed));
        if (problem === undefined) accepted++;
      }),
      { numRuns: 20_000 },
    );
    // The generator must exercise both verdicts, or the agreement proves little.
    expect(accepted).to.be.above(1_000);
  });

  it('names the first problem the way JSON Schema does', function () {
    expect(schemaProblem([])).to.equal('/: must be object');
    expect(schemaProblem({ type: 'message', from: 5, message: 'x' })).to.equal(
      '/from: must be string',
    );
    expect(schemaProblem({ type: 'message', from: 'a' })).to.equal(
      "/: must have required property 'message'",
    );
    expect(schemaProblem({ type: 'message', from: 'x'.repeat(65), message: 'x' })).to.equal(
      '/from: must NOT have more than 64 characters',
    );
    expect(schemaProblem({ type: 'message', from: '😀'.repeat(64), message: 'x' })).to.equal(
      undefined,
    );
    expect(schemaProblem({ type: 'notice', from: 'a', notice: 'n', seq: 1.5 })).to.equal(
      '/seq: must be integer',
    );
    expect(schemaProblem({ type: 'notice', from: 'a\u202e', notice: 'n' })).to.match(
      /^\/from: must match pattern "/,
    );
  });

  it('is code generated at build time: no schema compiled, no ajv compiler loaded at run time', function () {
    const generated = readFileSync(
      new URL('../../../src/protocol/generated/payload-validator.js', import.meta.url),
      'utf8',
    );
    const imports = [...generated.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    expect(imports).to.deep.equal(['ajv/dist/runtime/ucs2length.js']);
    expect(generated).not.to.match(/\brequire\(|new Function|\bcompile\(/);
  });
});
