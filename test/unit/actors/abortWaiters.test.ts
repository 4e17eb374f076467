import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { whenAborted } from '../../../src/actors/abortWaiters.ts';

describe('abort waiters', () => {
  it('abort: every waiter still waiting runs once, through one listener on the signal', () => {
    const c = new AbortController();
    const ran: number[] = [];
    const cancels = [0, 1, 2, 3].map((n) => whenAborted(c.signal, () => ran.push(n)));
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(1);
    cancels[1]?.();
    c.abort();
    expect(ran).toEqual([0, 2, 3]);
    // Nothing runs twice, and a cancel after the abort is harmless.
    c.signal.dispatchEvent(new Event('abort'));
    cancels[0]?.();
    expect(ran).toEqual([0, 2, 3]);
  });

  it('abort: waiters on another signal are not told', () => {
    const a = new AbortController();
    const b = new AbortController();
    const ran: string[] = [];
    whenAborted(a.signal, () => ran.push('a'));
    whenAborted(b.signal, () => ran.push('b'));
    a.abort();
    expect(ran).toEqual(['a']);
  });
});
