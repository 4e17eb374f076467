/**
 * The actor inbox envelope's schema (documentation: the hot path checks by hand, `parseEnvelope`) says what
 * `parseEnvelope` accepts: each sample is accepted by both or refused by both.
 */
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import { describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../../src/actors/envelope.ts';
import { actorInboxMessage } from '../../../src/contracts/index.ts';

// Any event: the envelope is what is compared here (each kind's events are `eventProblem`'s own schemas).
const schema = Compile(actorInboxMessage({ any: Type.Object({ type: Type.String(), at: Type.String() }) }));
const at = '2026-01-01T10:00:00.000Z';
const event = { type: 'credential.revoke', at };

const samples: [string, unknown, boolean][] = [
  ['the least', { tenantId: 't1', event }, true],
  [
    'every optional field',
    { tenantId: 't1', event, intentId: 'i1', by: 'user:alice', timer: { key: 'expire', dueAt: at } },
    true,
  ],
  ['an empty tenant', { tenantId: '', event }, false],
  ['no event', { tenantId: 't1' }, false],
  ['an event without type', { tenantId: 't1', event: { at } }, false],
  ['an intent id that is not a string', { tenantId: 't1', event, intentId: 7 }, false],
  ['a long `by`', { tenantId: 't1', event, by: 'x'.repeat(257) }, false],
  ['a timer without its time', { tenantId: 't1', event, timer: { key: 'expire' } }, false],
];

describe('actor inbox envelope', () => {
  for (const [what, envelope, valid] of samples)
    it(`actor inbox envelope: ${what} is ${valid ? 'accepted' : 'refused'} by the schema and the parser alike`, () => {
      const parsed = parseEnvelope(new TextEncoder().encode(JSON.stringify(envelope)));
      expect(typeof parsed !== 'string').toBe(valid);
      expect(schema.Check(envelope)).toBe(valid);
    });
});
