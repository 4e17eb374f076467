import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DrainLoop } from '../../../src/actors/drainLoop.ts';

describe('drain loop', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'clearInterval', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A loop whose passes find `found` items each (0 ends a run), counting them. */
  const loop = (minGapMs: number, found = () => 0) => {
    const passes: number[] = [];
    const l = new DrainLoop(
      async () => {
        passes.push(performance.now());
        return found();
      },
      { everyMs: 60_000, minGapMs, onError: (e) => expect.unreachable(String(e)) },
    );
    return { l, passes };
  };

  it('drain loop: nudges sooner than the gap after a pass are gathered into one pass at the gap’s end', async () => {
    const { l, passes } = loop(20);
    l.nudge();
    await vi.advanceTimersByTimeAsync(0);
    expect(passes).toEqual([0]);
    for (let t = 0; t < 5; t++) {
      await vi.advanceTimersByTimeAsync(2);
      l.nudge();
    }
    await vi.advanceTimersByTimeAsync(9);
    expect(passes).toEqual([0]);
    await vi.advanceTimersByTimeAsync(1);
    expect(passes).toEqual([0, 20]);
    // Past the gap, a nudge runs at once.
    await vi.advanceTimersByTimeAsync(50);
    l.nudge();
    await vi.advanceTimersByTimeAsync(0);
    expect(passes).toEqual([0, 20, 70]);
    await l.stop();
  });

  it('drain loop: a run repeats while its passes find work, without waiting for the gap', async () => {
    let left = 3;
    const { l, passes } = loop(20, () => (left-- > 0 ? 1 : 0));
    l.nudge();
    await vi.advanceTimersByTimeAsync(0);
    expect(passes).toEqual([0, 0, 0, 0]);
    await l.stop();
  });

  it('drain loop: without a gap, each nudge after a run runs a pass at once', async () => {
    const { l, passes } = loop(0);
    for (let t = 0; t < 3; t++) {
      l.nudge();
      await vi.advanceTimersByTimeAsync(1);
    }
    expect(passes).toEqual([0, 1, 2]);
    await l.stop();
  });
});
