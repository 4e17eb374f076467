/**
 * A circuit breaker per vendor adapter: after `openAfterFailures` consecutive retryable failures, calls fail
 * fast for `resetAfterMs`; then one trial call decides whether it closes again.
 */
import type { Clock } from '../../ids.ts';
import { VendorError } from './port.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  openAfterFailures: number;
  resetAfterMs: number;
  clock: Clock;
  onStateChange?: (state: BreakerState) => void;
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  private current: BreakerState = 'closed';

  constructor(private readonly o: CircuitBreakerOptions) {}

  get state(): BreakerState {
    if (this.current === 'open' && this.o.clock.now().getTime() - this.openedAt >= this.o.resetAfterMs) {
      return 'half-open';
    }
    return this.current;
  }

  async call<T>(fn: () => Promise<T>): Promise<T> {
    const state = this.state;
    if (state === 'open' || (state === 'half-open' && this.trialInFlight)) {
      const retryAfterMs = Math.max(0, this.openedAt + this.o.resetAfterMs - this.o.clock.now().getTime());
      throw new VendorError('CIRCUIT_OPEN', `circuit open after ${this.failures} failures`, { retryAfterMs });
    }
    if (state === 'half-open') this.trialInFlight = true;
    try {
      const r = await fn();
      this.succeeded();
      return r;
    } catch (e) {
      // Only failures of the vendor itself count; a refused request says the vendor is working.
      if (e instanceof VendorError && e.retryable) this.failed();
      else this.succeeded();
      throw e;
    } finally {
      if (state === 'half-open') this.trialInFlight = false;
    }
  }

  private succeeded() {
    this.failures = 0;
    this.set('closed');
  }

  private failed() {
    this.failures++;
    if (this.current === 'open' || this.failures >= this.o.openAfterFailures) {
      this.openedAt = this.o.clock.now().getTime();
      this.set('open');
    }
  }

  private set(s: BreakerState) {
    if (s !== this.current) {
      this.current = s;
      this.o.onStateChange?.(s);
    }
  }
}
