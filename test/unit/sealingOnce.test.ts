import { describe, expect, it } from 'vitest';
import { createSecretBox, sealingOnce } from '../../src/io/crypto/secretBox.ts';

describe('sealing once per request', () => {
  const box = createSecretBox('k1', Buffer.alloc(32, 5));

  it('sealing once: a PIN sealed twice in one request is one ciphertext, which the box opens', () => {
    const request = sealingOnce(box);
    const first = request.seal('482915');
    expect(request.seal('482915')).toBe(first);
    expect(box.open(first)).toBe('482915');
    const other = request.seal('730112');
    expect(other).not.toBe(first);
    expect(request.open(other)).toBe('730112');
  });

  it('sealing once: another request seals the same PIN anew (a fresh nonce), and digests stay the box’s', () => {
    const [a, b] = [sealingOnce(box), sealingOnce(box)];
    expect(a.seal('482915')).not.toBe(b.seal('482915'));
    expect(a.digest('482915')).toBe(box.digest('482915'));
  });
});
