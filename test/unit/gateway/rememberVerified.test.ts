import { describe, expect, it } from 'vitest';
import { type Principal, rememberVerified } from '../../../src/gateway/auth.ts';
import { LockError } from '../../../src/errors.ts';

const principal: Principal = { tenantId: 't1', subject: 's', scopes: new Set() };

/** A verifier that counts its calls: tokens starting `bad` are refused, the rest expire at `exp`. */
function counting(exp: number) {
  const calls: string[] = [];
  const verify = async (token: string) => {
    calls.push(token);
    if (token.startsWith('bad')) throw new LockError('LOCK.UNAUTHENTICATED', 'the token is not valid');
    return { principal, expiresAt: exp };
  };
  return { calls, verify };
}

describe('verified tokens remembered', () => {
  it('a token verified once is trusted without a second check, for a minute at most', async () => {
    let now = 1_000;
    const v = counting(1_000_000);
    const check = rememberVerified(v.verify, { now: () => now });
    expect(await check('a')).toBe(principal);
    expect(await check('a')).toBe(principal);
    expect(v.calls).toEqual(['a']);
    now += 60_000;
    expect(await check('a')).toBe(principal);
    expect(v.calls).toEqual(['a', 'a']);
  });

  it('a remembered token that expires is refused as expired, without asking the verifier', async () => {
    let now = 1_000;
    const v = counting(5_000);
    const check = rememberVerified(v.verify, { now: () => now });
    await check('a');
    now = 5_000;
    await expect(check('a')).rejects.toMatchObject({ code: 'LOCK.UNAUTHENTICATED' });
    expect(v.calls).toEqual(['a']);
  });

  it('refusals are not remembered, and the oldest token is forgotten first', async () => {
    const v = counting(1_000_000);
    const check = rememberVerified(v.verify, { now: () => 1_000, maxEntries: 2 });
    await expect(check('bad-1')).rejects.toMatchObject({ code: 'LOCK.UNAUTHENTICATED' });
    await expect(check('bad-1')).rejects.toMatchObject({ code: 'LOCK.UNAUTHENTICATED' });
    await check('a');
    await check('b');
    await check('c');
    await check('c');
    await check('a');
    expect(v.calls).toEqual(['bad-1', 'bad-1', 'a', 'b', 'c', 'a']);
  });
});
