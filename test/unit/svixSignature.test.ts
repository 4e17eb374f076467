/**
 * Our Svix verifier (node:crypto) against the official one (`@seamapi/webhook`, through the `seam` SDK):
 * over generated bodies, ids, timestamps, header names and signature lists, both accept the same
 * webhooks with the same body and refuse the same ones.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { SeamWebhook } from 'seam';
import { describe, expect, it } from 'vitest';
import { createSvixVerifier } from '../../src/io/vendors/seam/svixSignature.ts';

const secret = `whsec_${randomBytes(24).toString('base64')}`;
const otherSecret = `whsec_${randomBytes(24).toString('base64')}`;
const sign = (s: string, id: string, ts: string, body: string) =>
  createHmac('sha256', Buffer.from(s.slice('whsec_'.length), 'base64'))
    .update(`${id}.${Number.parseInt(ts, 10)}.${body}`)
    .digest('base64');

function outcome(f: () => unknown): { accepted: unknown } | { refused: 'syntax' | 'signature' } {
  try {
    return { accepted: f() };
  } catch (e) {
    return { refused: e instanceof SyntaxError ? 'syntax' : 'signature' };
  }
}

const official = new SeamWebhook(secret);
const ours = createSvixVerifier(secret);

describe('svix signature verification', () => {
  it('accepts and refuses exactly what the official Seam verifier does', () => {
    const now = () => Math.floor(Date.now() / 1000);
    // Offsets a second or two from the ±300 s edge could fall either side between the two calls.
    const offset = fc.integer({ min: -1000, max: 1000 }).filter((o) => Math.abs(Math.abs(o) - 300) > 2);
    const signatureEntry = fc.constantFrom('good', 'other-key', 'v2', 'garbage', 'bare');
    fc.assert(
      fc.property(
        fc.oneof(fc.json(), fc.string(), fc.constant('{"event_type":"device.connected"}')),
        fc.oneof(fc.constant('msg_1'), fc.string({ maxLength: 20 })),
        offset,
        fc.constantFrom('number', 'padded', 'suffixed', 'garbage'),
        fc.array(signatureEntry, { minLength: 0, maxLength: 3 }),
        fc.constantFrom('webhook', 'svix', 'both'),
        (body, id, off, tsForm, entries, names) => {
          const n = now() + off;
          const ts =
            tsForm === 'number'
              ? String(n)
              : tsForm === 'padded'
                ? `0${n}`
                : tsForm === 'suffixed'
                  ? `${n}x`
                  : 'soon';
          const list = entries
            .map((e) =>
              e === 'good'
                ? `v1,${sign(secret, id, ts, body)}`
                : e === 'other-key'
                  ? `v1,${sign(otherSecret, id, ts, body)}`
                  : e === 'v2'
                    ? `v2,${sign(secret, id, ts, body)}`
                    : e === 'garbage'
                      ? 'v1,AAAA'
                      : 'v1',
            )
            .join(' ');
          const headers: Record<string, string> = {};
          const put = (prefix: string, i: string, t: string, s: string) => {
            headers[`${prefix}-id`] = i;
            headers[`${prefix}-timestamp`] = t;
            headers[`${prefix}-signature`] = s;
          };
          if (names !== 'svix') put('webhook', id, ts, list);
          // Both present: svix-* wins in both verifiers; make the webhook-* set wrong to prove it.
          if (names === 'both') put('webhook', 'wrong', ts, 'v1,AAAA');
          if (names !== 'webhook') put('svix', id, ts, list);
          const a = outcome(() => official.verify(body, headers));
          const b = outcome(() => ours.verify(body, headers));
          expect(b).toEqual(a);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('accepts a freshly signed webhook and refuses a tampered one', () => {
    const ts = String(Math.floor(Date.now() / 1000));
    const body = '{"event_type":"device.low_battery"}';
    const headers = {
      'webhook-id': 'msg_9',
      'webhook-timestamp': ts,
      'webhook-signature': `v1,${sign(secret, 'msg_9', ts, body)}`,
    };
    expect(ours.verify(body, headers)).toEqual({ event_type: 'device.low_battery' });
    expect(() => ours.verify(body.replace('low', 'high'), headers)).toThrow();
  });
});
