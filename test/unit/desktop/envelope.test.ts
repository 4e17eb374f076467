/**
 * Agent messages: a signed message verifies on its own subject against its agent's key; any change to any
 * field, another agent's key, another subject, a revoked agent, an old message or a replayed sequence number
 * is refused with its reason — never accepted, never a throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AgentMessage,
  generateDeviceKey,
  signMessage,
  verifyMessage,
} from '../../../src/desktop/envelope.ts';

const now = new Date('2026-12-01T10:00:00.000Z');
const { key } = generateDeviceKey();
const other = generateDeviceKey().key;
const agent = { propertyId: 'p1', publicKey: key.publicKey, status: 'active' };
const subject = 'lock.desktop.p1.a1.evt.card_encoded';
const message = (body: Record<string, unknown> = { operationId: 'op-1', uid: 'A1B2C3D4' }) =>
  signMessage(key, {
    agentId: 'a1',
    propertyId: 'p1',
    name: 'card_encoded',
    boot: 'b1',
    seq: 7,
    at: now.toISOString(),
    body,
  });
const check = (m: unknown, over: Partial<Parameters<typeof verifyMessage>[1]> = {}) =>
  verifyMessage(JSON.stringify(m), { subject, agent, now, ...over });
const refusal = (r: ReturnType<typeof check>) => (r.ok ? 'accepted' : r.refusal);

describe('agent messages', () => {
  it('envelope: a signed message verifies on its subject against its agent key', () => {
    expect(check(message())).toMatchObject({ ok: true, message: { body: { uid: 'A1B2C3D4' } } });
  });

  it('envelope: any change to any field is refused (the signature covers all of it)', () => {
    const fields = ['agentId', 'propertyId', 'name', 'boot', 'seq', 'at', 'body'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.string({ minLength: 1, maxLength: 8 }), (field, junk) => {
        const m = message() as unknown as Record<string, unknown>;
        const changed =
          field === 'seq'
            ? { ...m, seq: 8 }
            : field === 'body'
              ? { ...m, body: { operationId: 'op-1', uid: `X${junk}` } }
              : field === 'at'
                ? { ...m, at: new Date(now.getTime() + 1000).toISOString() }
                : { ...m, [field]: `${String(m[field])}${junk}` };
        // Names that no longer match the subject are refused for that; the rest for their signature.
        expect(['BAD_SIGNATURE', 'WRONG_SUBJECT', 'UNKNOWN_AGENT']).toContain(refusal(check(changed)));
      }),
    );
  });

  it('envelope: another key, another subject, a revoked agent, an old or replayed message are refused', () => {
    const forged = signMessage(other, { ...message(), sig: undefined } as unknown as AgentMessage);
    expect(refusal(check(forged))).toBe('BAD_SIGNATURE');
    expect(refusal(check(message(), { subject: 'lock.desktop.p1.a2.evt.card_encoded' }))).toBe(
      'WRONG_SUBJECT',
    );
    expect(refusal(check(message(), { subject: 'lock.desktop.p2.a1.evt.card_encoded' }))).toBe(
      'WRONG_SUBJECT',
    );
    expect(refusal(check(message(), { subject: 'lock.desktop.p1.a1.evt.hello' }))).toBe('WRONG_SUBJECT');
    expect(refusal(check(message(), { agent: { ...agent, status: 'revoked' } }))).toBe('REVOKED_AGENT');
    expect(refusal(check(message(), { agent: null }))).toBe('UNKNOWN_AGENT');
    expect(refusal(check(message(), { now: new Date(now.getTime() + 10 * 60_000) }))).toBe('STALE');
    expect(refusal(check(message(), { lastSeen: { boot: 'b1', seq: 7 } }))).toBe('REPLAYED');
    expect(refusal(check(message(), { lastSeen: { boot: 'b1', seq: 6 } }))).toBe('accepted');
    // Boots are numbered: any message of an earlier start is a replay, any of a later one is new.
    const started = (boot: string) => signMessage(key, { ...message(), boot, sig: undefined } as never);
    expect(refusal(check(started('3'), { lastSeen: { boot: '4', seq: 1 } }))).toBe('REPLAYED');
    expect(refusal(check(started('5'), { lastSeen: { boot: '4', seq: 99 } }))).toBe('accepted');
  });

  it('envelope: arbitrary bytes are refused as malformed, never thrown', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (raw) => {
        const r = verifyMessage(raw, { subject, agent, now });
        expect(r.ok).toBe(false);
      }),
    );
  });
});
