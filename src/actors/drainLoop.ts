/**
 * A background pass run on an interval and on demand (`nudge`), one at a time, repeated until a pass
 * finds nothing; nudges while a run is queued coalesce. The outbox relay, the timer dispatcher, the
 * webhook router and the effect sweeper (one pass per interval) all work this way.
 */
import { context, ROOT_CONTEXT } from '@opentelemetry/api';

export class DrainLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private pending = false;
  private stopped = false;

  constructor(
    /** One pass; returns how many items it handled (0 ends the run). */
    private readonly pass: () => Promise<number>,
    private readonly o: { everyMs: number; onError: (e: unknown) => void },
  ) {}

  /** Starts (or, after `stop`, restarts) the interval. */
  start(): void {
    this.stopped = false;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.nudge(), this.o.everyMs);
  }

  nudge(): void {
    if (this.pending || this.stopped) return;
    this.pending = true;
    this.running = this.running
      .then(async () => {
        this.pending = false;
        // Background work of its own: a pass nudged from inside a request or a message does not join that
        // operation's trace (it handles whatever is pending, from many operations).
        while (!this.stopped && (await context.with(ROOT_CONTEXT, () => this.pass())) > 0);
      })
      .catch(this.o.onError);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running.catch(() => {});
  }
}
