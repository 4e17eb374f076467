/**
 * Many waiters on one AbortSignal (the vendor calls queued in the turns of one partition worker, told when it
 * stops) through one listener: an EventTarget checks every listener it holds on each add, so thousands of
 * waiters each adding their own made every add slower (1.3% of the event run's CPU).
 */
const waitersOf = new WeakMap<AbortSignal, Set<() => void>>();

/** Runs `f` when `signal` aborts (not if it has already: the caller checks `aborted`); returns the cancel. */
export function whenAborted(signal: AbortSignal, f: () => void): () => void {
  let waiters = waitersOf.get(signal);
  if (!waiters) {
    const all = new Set<() => void>();
    signal.addEventListener('abort', () => {
      for (const g of [...all]) g();
      all.clear();
    });
    waitersOf.set(signal, all);
    waiters = all;
  }
  const set = waiters;
  set.add(f);
  return () => set.delete(f);
}
