/**
 * A short-lived cache of reads (a property's adapter settings, its vendor secrets, webhook endpoints) that
 * never makes a hot path wait for a read it can avoid, and never answers a value whose read started more
 * than `ttlMs` before the caller asked:
 * - One read per key at a time: callers that find the value missing or expired share the read in flight,
 *   if it started within `ttlMs` (a read that hangs, or is slower than that, is not joined: a new one starts).
 *   Without it, every vendor call in flight when the value expired read it again (one transaction each);
 *   under load those reads queued behind the group commit, and were the slowest 2% of REST issuances.
 * - Read again ahead of expiry: a value older than `refreshAfterMs` is answered at once while one read
 *   replaces it, so under steady use nobody waits for the read at all.
 * - A value's age is counted from when its read started (what it says may have changed since then).
 * - `fresh` reads now, without joining a read that started earlier, for callers a stale value must not decide.
 * - `invalidate` forgets values, and a read in flight at that moment does not store what it read.
 * - `keep` says which values are worth keeping (a webhook id that matches no endpoint is not): another is
 *   answered to the callers of its read and forgets what was kept for its key.
 */
import type { Clock } from '../../ids.ts';

export interface RefreshingCacheOptions<V> {
  clock: Clock;
  /** No value older than this is answered. */
  ttlMs: number;
  /** A value older than this is read again in the background (default three quarters of `ttlMs`). */
  refreshAfterMs?: number;
  /** Whether a value read is kept (all by default). */
  keep?: (value: V) => boolean;
}

export interface RefreshingCache<V> {
  get(key: string, read: () => Promise<V>, options?: { fresh?: boolean }): Promise<V>;
  /** Forgets the values whose key matches; reads in flight for them store nothing. */
  invalidate(matches: (key: string) => boolean): void;
}

interface Entry<V> {
  value: V;
  /** When the read that gave it started. */
  at: number;
}

export function createRefreshingCache<V>(o: RefreshingCacheOptions<V>): RefreshingCache<V> {
  const refreshAfterMs = o.refreshAfterMs ?? Math.floor(o.ttlMs * 0.75);
  const values = new Map<string, Entry<V>>();
  const reading = new Map<string, { read: Promise<V>; at: number }>();
  /** The latest read started for a key, until it ends: only it stores, and `invalidate` takes it away. */
  const latest = new Map<string, object>();
  const now = () => o.clock.now().getTime();

  async function readAndStore(key: string, read: () => Promise<V>): Promise<V> {
    const at = now();
    const token = {};
    latest.set(key, token);
    try {
      const value = await read();
      if (latest.get(key) === token) {
        if (o.keep && !o.keep(value)) values.delete(key);
        else values.set(key, { value, at });
      }
      return value;
    } finally {
      if (latest.get(key) === token) latest.delete(key);
    }
  }

  /** The read in flight for a key if it started within `ttlMs`, or a new one. */
  function shared(key: string, read: () => Promise<V>): Promise<V> {
    const inFlight = reading.get(key);
    if (inFlight && now() - inFlight.at <= o.ttlMs) return inFlight.read;
    const entry = { read: readAndStore(key, read), at: now() };
    void entry.read
      .finally(() => {
        if (reading.get(key) === entry) reading.delete(key);
      })
      .catch(() => undefined);
    reading.set(key, entry);
    return entry.read;
  }

  return {
    get(key, read, options = {}) {
      if (options.fresh) return readAndStore(key, read);
      const entry = values.get(key);
      const age = entry ? now() - entry.at : Number.POSITIVE_INFINITY;
      if (entry && age <= o.ttlMs) {
        // A failed refresh is left for the first caller that must wait for a read to see.
        if (age > refreshAfterMs) shared(key, read).catch(() => undefined);
        return Promise.resolve(entry.value);
      }
      return shared(key, read);
    },
    invalidate(matches) {
      for (const key of new Set([...values.keys(), ...reading.keys(), ...latest.keys()])) {
        if (!matches(key)) continue;
        values.delete(key);
        reading.delete(key);
        latest.delete(key);
      }
    },
  };
}
