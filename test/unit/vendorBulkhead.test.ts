import { describe, expect, it } from 'vitest';
import { VendorBulkhead } from '../../src/actors/vendorBulkhead.ts';

const job = (id: string, vendor: string, lockKey: string) => ({ id, vendor, lockKey });

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
    b.done({ id: 't0', vendor: 'ttlock', lockKey: 'T0' });
    expect(b.take()?.id).toBe('t2');
    expect(b.size).toBe(1);
  });
});
