/**
 * Requests that arrive while a batch is in flight go together in the next one: at most `maxConcurrent`
 * batches run at once, each of at most `maxBatch` items. `run` answers one result per item, in order;
 * if it throws, every item of its batch gets the error. Activation reads and webhook inbox writes use it.
 */
export class MicroBatcher<I, R> {
  private queue: { item: I; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private running = 0;

  constructor(
    private readonly run: (items: I[]) => Promise<R[]>,
    private readonly maxBatch: number,
    private readonly maxConcurrent: number,
  ) {}

  submit(item: I): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.maxConcurrent && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.running++;
      void this.run(batch.map((b) => b.item))
        .then(
          (results) => batch.forEach((b, i) => b.resolve(results[i] as R)),
          (e: unknown) => batch.forEach((b) => b.reject(e)),
        )
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }
}
