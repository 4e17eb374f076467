/**
 * The adapter resolver reads a property's adapter settings once for all the vendor calls that need them,
 * and ahead of expiry: under load, a read per call in flight at each expiry queued behind the group commit
 * (the slowest 2% of REST issuances spent ~20 ms of their vendor step there). Counted against real
 * PostgreSQL: every SELECT of `properties` the resolver's database runs.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createAdapterResolver } from '../../src/io/vendors/adapterResolver.ts';
import type { LockAdapter } from '../../src/io/vendors/port.ts';
import { eventually } from '../support/harness.ts';
import { harnessWithProperty } from '../support/propertyWorld.ts';
import { queryCounter } from '../support/queryCounter.ts';

/** The reads of `properties`, started and finished. */
const propertyReads = () =>
  queryCounter((node) => node.kind === 'SelectQueryNode' && JSON.stringify(node).includes('"properties"'));

describe('adapter settings reads', () => {
  const world = harnessWithProperty();

  function resolverAt(clock: { now: () => Date }) {
    const reads = propertyReads();
    const resolver = createAdapterResolver({
      runtimeDb: world.h.service.runtimeDb.withPlugin(reads),
      clock,
      factories: { ttlock: () => ({}) as LockAdapter },
      mode: 'simulated',
      defaults: { ttlock: {} },
      envSecret: () => undefined,
      egress: { allow: new Set() },
      breaker: { openAfterFailures: 20, resetAfterMs: 30_000 },
      cacheMs: 2000,
    });
    return { resolver, reads };
  }

  it('the vendor calls in flight when the settings expire share one read', async () => {
    let t = Date.now();
    const clock = { now: () => new Date(t) };
    const { resolver, reads } = resolverAt(clock);
    const inFlight = () =>
      Promise.all(
        Array.from({ length: 32 }, () =>
          resolver.resolve(world.tenantId, world.propertyId, 'ttlock', { issue: true }),
        ),
      );

    await inFlight();
    expect([reads.started, reads.finished]).toEqual([1, 1]);
    t += 2001;
    await inFlight();
    expect([reads.started, reads.finished]).toEqual([2, 2]);
  });

  it('settings near expiry are answered at once and read again once, in the background', async () => {
    let t = Date.now();
    const clock = { now: () => new Date(t) };
    const { resolver, reads } = resolverAt(clock);
    await resolver.resolve(world.tenantId, world.propertyId, 'ttlock');
    // The table locked: a read of the settings now waits until the test lets it go.
    const blocker = new pg.Client({ connectionString: world.h.databaseUrl });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query('lock table properties in access exclusive mode');
      t += 1600;
      const answered = await Promise.all(
        Array.from({ length: 8 }, () => resolver.resolve(world.tenantId, world.propertyId, 'ttlock')),
      );
      // Answered while no read of the table could finish: from what was read before.
      expect(answered).toHaveLength(8);
      expect(reads.finished).toBe(1);
      await blocker.query('commit');
    } finally {
      await blocker.end();
    }
    // One read, in the background, for all eight.
    await eventually(async () => (reads.finished === 2 ? true : undefined), 5000, 'the read ahead of expiry');
    expect(reads.started).toBe(2);
  });
});
