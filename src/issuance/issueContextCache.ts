/**
 * Issue contexts (the property and the rooms' locks) kept from earlier REST issues' claims, so a REST issue can
 * plan, and have its message journaled by its idempotency claim's own statement, before anything is read. A
 * kept context is never trusted: the claim's statement journals the message only if the context it reads has
 * the same digest (migration 0030), and returns the context it read otherwise, which replaces the kept one.
 * Bounded: the least recently used entries go first.
 */
import type { IssueContext } from '../readModel/index.ts';

export interface KeptContext {
  ctx: IssueContext;
  /** The database's digest of the context as it read it. */
  hash: string;
}

export class IssueContextCache {
  private readonly entries = new Map<string, KeptContext>();

  constructor(private readonly max = 10_000) {}

  get(tenantId: string, propertyId: string, rooms: readonly string[]): KeptContext | undefined {
    const k = keyOf(tenantId, propertyId, rooms);
    const e = this.entries.get(k);
    if (e) {
      // Most recently used last: the first entry is the one to drop.
      this.entries.delete(k);
      this.entries.set(k, e);
    }
    return e;
  }

  put(tenantId: string, propertyId: string, rooms: readonly string[], kept: KeptContext): void {
    const k = keyOf(tenantId, propertyId, rooms);
    this.entries.delete(k);
    this.entries.set(k, kept);
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

const keyOf = (tenantId: string, propertyId: string, rooms: readonly string[]) =>
  JSON.stringify([tenantId, propertyId, rooms]);
