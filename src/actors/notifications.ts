/**
 * Committed-transition notifications on core NATS (`lock.state.<type>.<id>`), and the gateway's waiters on
 * them. Notifications are hints for waiting and inspection; the read model stays the truth.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { filter, Subject, take } from 'rxjs';
import type { ReadModelRow } from './actorKinds.ts';
import type { ActorAddress } from './partitioning.ts';

export interface StateNotification {
  tenantId: string;
  type: string;
  id: string;
  version: number;
  status: string;
  state: unknown;
  /** The message whose commit this is: a sender waits for its own message to be applied. */
  msgId?: string;
  /** The event the commit applied (its type): the inspector's "last event". */
  event?: string;
  /** The actor's property, where it has one: the inspector filters live rows by it. */
  propertyId?: string;
  /**
   * In process only, never published: the read-model row the commit wrote, so a waiter in the committing
   * process answers from it instead of reading it back.
   */
  readModel?: ReadModelRow | null;
}

export function publishNotification(nc: NatsConnection, stateRoot: string, n: StateNotification): void {
  const { readModel: _inProcessOnly, ...published } = n;
  nc.publish(`${stateRoot}.${n.type}.${n.id}`, JSON.stringify(published));
}

/** One subscription for the whole gateway; waiters register per actor. */
export class StateWatcher {
  private readonly subjects = new Map<string, { subject: Subject<StateNotification>; waiters: number }>();
  private sub: Subscription | undefined;
  private readonly feeds = new Map<string, Set<(n: StateNotification) => void>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly stateRoot: string,
  ) {}

  start(): void {
    this.sub = this.nc.subscribe(`${this.stateRoot}.>`, {
      callback: (err, msg) => {
        if (err) return;
        const tokens = msg.subject.slice(this.stateRoot.length + 1).split('.');
        const entry = this.subjects.get(`${tokens[0]}:${tokens[1]}`);
        // Parsed only when someone listens: a waiter for this actor, or a tenant's feed (the inspector).
        if (!entry && this.feeds.size === 0) return;
        let n: StateNotification;
        try {
          n = JSON.parse(msg.string()) as StateNotification;
        } catch {
          return; // A malformed notification is not ours to act on.
        }
        this.tell(n);
      },
    });
  }

  /**
   * A notification of this process's own runtime, told in process: its connection does not hear its own
   * publishes (noEcho), so each is told once, here, without the round trip through the server.
   */
  deliver(n: StateNotification): void {
    try {
      this.tell(n);
    } catch {
      // A listener's failure is its own; the commit that notified is done.
    }
  }

  private tell(n: StateNotification): void {
    this.subjects.get(`${n.type}:${n.id}`)?.subject.next(n);
    for (const f of this.feeds.get(n.tenantId) ?? []) f(n);
  }

  /** Flushes the subscription to the server: after this, no notification published later is missed. */
  async ready(): Promise<void> {
    await this.nc.flush();
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  /** Every committed transition of a tenant's actors, as it is notified, until the returned function is called. */
  feed(tenantId: string, listener: (n: StateNotification) => void): () => void {
    let set = this.feeds.get(tenantId);
    if (!set) {
      set = new Set();
      this.feeds.set(tenantId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.feeds.delete(tenantId);
    };
  }

  /**
   * Registers a waiter before the caller sends its message, so no notification can slip between the two;
   * `wait()` resolves with the first matching notification, or null after `timeoutMs`.
   */
  watch(address: ActorAddress, match: (n: StateNotification) => boolean) {
    const key = `${address.type}:${address.id}`;
    let entry = this.subjects.get(key);
    if (!entry) {
      entry = { subject: new Subject<StateNotification>(), waiters: 0 };
      this.subjects.set(key, entry);
    }
    entry.waiters++;
    const e = entry;
    let resolveMatch: (n: StateNotification) => void = () => {};
    const matched = new Promise<StateNotification>((r) => {
      resolveMatch = r;
    });
    // Subscribed now, not at wait(): a notification between watch() and wait() is kept.
    const sub = e.subject.pipe(filter(match), take(1)).subscribe(resolveMatch);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      sub.unsubscribe();
      e.waiters--;
      if (e.waiters === 0) this.subjects.delete(key);
    };
    return {
      wait: async (timeoutMs: number): Promise<StateNotification | null> => {
        let timer: NodeJS.Timeout | undefined;
        const expired = new Promise<null>((r) => {
          timer = setTimeout(() => r(null), Math.max(0, timeoutMs));
        });
        try {
          return await Promise.race([matched, expired]);
        } finally {
          clearTimeout(timer);
          release();
        }
      },
      release,
    };
  }
}
