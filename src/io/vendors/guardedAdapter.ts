/**
 * Every call of an adapter ends with its result or a normalized vendor failure. An adapter reads the answers
 * it expects; an answer of another shape (a proxy's HTML page, a truncated body, another API at the URL, a
 * vendor change) would otherwise surface as a TypeError: a 500 to a REST caller, an "internal" failure in the
 * machines. Here it becomes `BAD_ANSWER`, retryable (a proxy in the way passes), naming the vendor and the
 * call. Failures the adapter already normalized pass through unchanged.
 */
import { LockError } from '../../errors.ts';
import { type LockAdapter, VendorError } from './port.ts';

/** The adapter with every method call passed through `around` (the adapter's own fields kept as they are). */
export function wrapAdapterCalls(
  adapter: LockAdapter,
  around: (name: string, call: () => unknown) => unknown,
): LockAdapter {
  const wrapped: Record<string, unknown> = { ...adapter };
  for (const [name, member] of Object.entries(adapter)) {
    if (typeof member !== 'function') continue;
    wrapped[name] = (...args: unknown[]) =>
      around(name, () => (member as (...a: unknown[]) => unknown).apply(adapter, args));
  }
  return wrapped as unknown as LockAdapter;
}

export function guardAdapter(vendor: string, adapter: LockAdapter): LockAdapter {
  return wrapAdapterCalls(adapter, (name, call) => {
    const normalize = (e: unknown): never => {
      if (e instanceof LockError) throw e;
      const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      throw new VendorError('BAD_ANSWER', `${vendor} ${name}: unexpected answer (${what.slice(0, 200)})`, {
        cause: e,
      });
    };
    try {
      const result = call();
      return result instanceof Promise ? result.catch(normalize) : result;
    } catch (e) {
      return normalize(e);
    }
  });
}
