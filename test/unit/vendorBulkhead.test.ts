import { describe, expect, it } from 'vitest';
import { VendorBulkhead } from '../../src/actors/vendorBulkhead.ts';

const job = (id: string, vendor: string, lockKey: string, priority = false) => ({
  id,
  vendor,
  lockKey,
  priority,
});

describe('vendor bulkhead', () => {
  it('bulkhead: one call at a time per lock, in arrival order', () => {
    const b = new VendorBulkhead<ReturnType<typeof job>>(10);
    b.push(job('a1', 'ttlock', 'L1'));
    b.push(job('a2', 'ttlock', 'L1'));
    b.push(job('b1', 'ttlock', 'L2'));
    const first = b.take();
    const second = b.take();
    expect([first?.id, second?.id]).toEqual(['a1', 'b1']);
    expect(b.take()).toBeUndefined();
    b.done(first!);
    expect(b.take()?.id).toBe('a2');
    expect(b.size).toBe(0);
  });

  it('bulkhead: at most N calls per vendor; another vendor is not held up', () => {
    const b = new VendorBulkhead<ReturnType<typeof job>>(2);
    for (let i = 0; i < 4; i++) b.push(job(`t${i}`, 'ttlock', `T${i}`));
    b.push(job('s0', 'seam', 'S0'));
    const started = [b.take(), b.take(), b.take()].map((j) => j?.id);
    expect(started).toEqual(['t0', 't1', 's0']);
    expect(b.take()).toBeUndefined();
    b.done({ id: 't0', vendor: 'ttlock', lockKey: 'T0', priority: false });
    expect(b.take()?.id).toBe('t2');
    expect(b.size).toBe(1);
  });

  it("bulkhead: a priority job waits only for calls in flight: before its lock's queue and before other locks", () => {
    const b = new VendorBulkhead<ReturnType<typeof job>>(1);
    b.push(job('o1', 'ttlock', 'L1'));
    const running = b.take();
    b.push(job('o2', 'ttlock', 'L2'));
    b.push(job('o3', 'ttlock', 'L1'));
    b.push(job('p1', 'ttlock', 'L1', true));
    b.push(job('p2', 'ttlock', 'L3', true));
    // The vendor's one slot is busy: nothing starts until it is free.
    expect(b.take()).toBeUndefined();
    b.done(running!);
    const order: string[] = [];
    for (let j = b.take(); j; j = b.take()) {
      order.push(j.id);
      b.done(j);
    }
    expect(order.slice(0, 2).sort()).toEqual(['p1', 'p2']);
    expect(order.slice(2).sort()).toEqual(['o2', 'o3']);
  });
});
