import { describe, expect, it } from 'vitest';
import { freshNonce } from '../../src/io/crypto/nonces.ts';
import { createSecretBox } from '../../src/io/crypto/secretBox.ts';

describe('pooled GCM nonces', () => {
  it('nonces: every one is 12 bytes and none repeats across many refills of the pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const n = freshNonce();
      expect(n).toHaveLength(12);
      seen.add(n.toString('hex'));
    }
    expect(seen.size).toBe(10_000);
  });

  it('nonces: a nonce handed out is the caller’s own (the pool refilling does not change it)', () => {
    const a = freshNonce();
    const kept = Buffer.from(a);
    // More than the pool holds: it refills under `a` at least once.
    for (let i = 0; i < 400; i++) freshNonce();
    expect(a.equals(kept)).toBe(true);
  });

  it('nonces: two seals of one PIN differ and both open', () => {
    const box = createSecretBox('k1', Buffer.alloc(32, 3));
    const [x, y] = [box.seal('1234'), box.seal('1234')];
    expect(x).not.toBe(y);
    expect([box.open(x), box.open(y)]).toEqual(['1234', '1234']);
  });
});
