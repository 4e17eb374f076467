/**
 * The adapter resolver's cache: one read per key at a time, read again ahead of expiry without making
 * anyone wait, never a value older than its lifetime, and invalidation that a read in flight cannot undo.
 */
import { describe, expect, it } from 'vitest';
import { createRefreshingCache, type RefreshingCacheOptions } from '../../src/io/vendors/refreshingCache.ts';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
}

/** Reads the test answers by hand, counted. */
function manualReads<V>() {
  const pending: { resolve: (v: V) => void; reject: (e: Error) => void }[] = [];
  return {
    read: () => new Promise<V>((resolve, reject) => pending.push({ resolve, reject })),
    get count() {
      return pending.length;
    },
    answer(i: number, v: V) {
      pending[i]!.resolve(v);
    },
    fail(i: number, e: Error) {
      pending[i]!.reject(e);
    },
  };
}

const settled = () => new Promise((r) => setImmediate(r));

/** A cache over hand-answered reads, on a hand-moved clock (a 2 s lifetime unless told otherwise). */
function cacheWorld<V = string>(options: Partial<RefreshingCacheOptions<V>> = {}) {
  const clock = manualClock();
  const reads = manualReads<V>();
  const cache = createRefreshingCache<V>({ clock, ttlMs: 2000, ...options });
  return {
    clock,
    reads,
    cache,
    /** The key read once, answered `value`. */
    async cached(key: string, value: V) {
      const p = cache.get(key, reads.read);
      reads.answer(reads.count - 1, value);
      return p;
    },
  };
}

describe('refreshing cache', () => {
  it('callers that find the value missing share one read', async () => {
    const { cache, reads } = cacheWorld();
    const callers = Array.from({ length: 32 }, () => cache.get('p1', reads.read));
    expect(reads.count).toBe(1);
    reads.answer(0, 'v1');
    expect(await Promise.all(callers)).toEqual(Array(32).fill('v1'));
  });

  it('callers that find the value expired share one read, and wait for it', async () => {
    const { clock, cache, reads, cached } = cacheWorld();
    await cached('p1', 'v1');
    clock.advance(2001);
    let answered = 0;
    const callers = Array.from({ length: 8 }, () => cache.get('p1', reads.read).then((v) => (answered++, v)));
    await settled();
    expect(reads.count).toBe(2);
    expect(answered).toBe(0);
    reads.answer(1, 'v2');
    expect(await Promise.all(callers)).toEqual(Array(8).fill('v2'));
  });

  it('a value near expiry is answered at once while one read replaces it', async () => {
    const { clock, cache, reads, cached } = cacheWorld({ refreshAfterMs: 1500 });
    await cached('p1', 'v1');

    clock.advance(1000);
    expect(await cache.get('p1', reads.read)).toBe('v1');
    expect(reads.count).toBe(1);

    clock.advance(600);
    expect(await Promise.all([cache.get('p1', reads.read), cache.get('p1', reads.read)])).toEqual([
      'v1',
      'v1',
    ]);
    expect(reads.count).toBe(2);
    reads.answer(1, 'v2');
    await settled();
    // The refreshed value counts its age from when its read started (1,600 ms in): not read again before
    // 3,100 ms, answered until 3,600 ms.
    clock.advance(1400);
    expect(await cache.get('p1', reads.read)).toBe('v2');
    expect(reads.count).toBe(2);
    clock.advance(500);
    expect(await cache.get('p1', reads.read)).toBe('v2');
    expect(reads.count).toBe(3);
  });

  it('never answers a value older than its lifetime, even when reading it again failed', async () => {
    const { clock, cache, reads, cached } = cacheWorld({ refreshAfterMs: 1500 });
    await cached('p1', 'v1');
    clock.advance(1600);
    expect(await cache.get('p1', reads.read)).toBe('v1');
    reads.fail(1, new Error('database down'));
    await settled();
    clock.advance(500);
    const late = cache.get('p1', reads.read);
    expect(reads.count).toBe(3);
    reads.fail(2, new Error('database still down'));
    await expect(late).rejects.toThrow('database still down');
  });

  it('fresh reads now, even with a read already in flight, and what it read is kept', async () => {
    const { clock, cache, reads } = cacheWorld();
    const shared = cache.get('p1', reads.read);
    clock.advance(10);
    const fresh = cache.get('p1', reads.read, { fresh: true });
    expect(reads.count).toBe(2);
    reads.answer(1, 'after the change');
    expect(await fresh).toBe('after the change');
    // The older read ends later: it does not replace the newer value.
    reads.answer(0, 'before the change');
    expect(await shared).toBe('before the change');
    expect(await cache.get('p1', reads.read)).toBe('after the change');
    expect(reads.count).toBe(2);
  });

  it('invalidate forgets the matching values, and a read in flight then stores nothing', async () => {
    const { cache, reads } = cacheWorld();
    const a = cache.get('t1:p1:ttlock', reads.read);
    const b = cache.get('t1:p2:ttlock', reads.read);
    reads.answer(1, 'p2 secrets');
    await b;
    cache.invalidate((k) => k.startsWith('t1:p1:'));
    reads.answer(0, 'p1 secrets before rotation');
    expect(await a).toBe('p1 secrets before rotation');

    const again = cache.get('t1:p1:ttlock', reads.read);
    expect(reads.count).toBe(3);
    reads.answer(2, 'p1 secrets after rotation');
    expect(await again).toBe('p1 secrets after rotation');
    expect(await cache.get('t1:p2:ttlock', reads.read)).toBe('p2 secrets');
    expect(reads.count).toBe(3);
  });

  it('a value not worth keeping is answered, not kept, and forgets what was kept', async () => {
    const { clock, cache, reads } = cacheWorld<string | null>({ ttlMs: 5000, keep: (v) => v !== null });
    const unknown = cache.get('made-up', reads.read);
    reads.answer(0, null);
    expect(await unknown).toBeNull();
    const again = cache.get('made-up', reads.read);
    expect(reads.count).toBe(2);
    reads.answer(1, null);
    await again;

    const known = cache.get('endpoint', reads.read);
    reads.answer(2, 'endpoint v1');
    await known;
    clock.advance(4000);
    expect(await cache.get('endpoint', reads.read)).toBe('endpoint v1');
    reads.answer(3, null);
    await settled();
    // Gone since: the next caller reads again rather than being answered the endpoint.
    const gone = cache.get('endpoint', reads.read);
    expect(reads.count).toBe(5);
    reads.answer(4, null);
    expect(await gone).toBeNull();
  });

  it('a read that hangs, or started more than the lifetime ago, is not joined: a new one starts', async () => {
    const { clock, cache, reads } = cacheWorld();
    const stuck = cache.get('p1', reads.read);
    clock.advance(1999);
    void cache.get('p1', reads.read);
    expect(reads.count).toBe(1);
    clock.advance(2);
    const late = cache.get('p1', reads.read);
    expect(reads.count).toBe(2);
    reads.answer(1, 'read after the change');
    expect(await late).toBe('read after the change');
    // The hung read ends at last: it neither replaces the newer value nor is answered to later callers.
    reads.answer(0, 'read before the change');
    expect(await stuck).toBe('read before the change');
    expect(await cache.get('p1', reads.read)).toBe('read after the change');
    expect(reads.count).toBe(2);
  });

  it('invalidate also drops a read in flight that a failed fresh read left without a token', async () => {
    const { cache, reads } = cacheWorld();
    const shared = cache.get('t1:p1:ttlock', reads.read);
    const fresh = cache.get('t1:p1:ttlock', reads.read, { fresh: true });
    reads.fail(1, new Error('database down'));
    await expect(fresh).rejects.toThrow('database down');
    cache.invalidate((k) => k.startsWith('t1:p1:'));
    const afterRotation = cache.get('t1:p1:ttlock', reads.read);
    expect(reads.count).toBe(3);
    reads.answer(0, 'secret before rotation');
    reads.answer(2, 'secret after rotation');
    expect(await shared).toBe('secret before rotation');
    expect(await afterRotation).toBe('secret after rotation');
  });
});
