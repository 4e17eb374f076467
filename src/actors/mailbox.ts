/**
 * The narrow capability callers get to talk to actors: send a message into an actor's inbox, and wait for
 * the actor to reach a state. The gateway, platform consumer, effect runner and timers all send this way.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { SpanKind } from '@opentelemetry/api';
import { LockError } from '../errors.ts';
import type { Topology } from '../io/nats/index.ts';
import { injectInto, inSpan } from '../observability/tracing.ts';
import { type ActorEnvelope, encodeEnvelope } from './envelope.ts';
import type { StateNotification, StateWatcher } from './notifications.ts';
import { type ActorAddress, actorSubject } from './partitioning.ts';

export interface ActorMailbox {
  /** Publishes durably (JetStream ack); `msgId` deduplicates repeats within the stream's window. */
  send(address: ActorAddress, envelope: ActorEnvelope, msgId: string): Promise<void>;
  /** Watches first, then `send`, then waits: no notification can be missed between them. */
  sendAndWait(
    address: ActorAddress,
    envelope: ActorEnvelope,
    msgId: string,
    match: (n: StateNotification) => boolean,
    timeoutMs: number,
  ): Promise<StateNotification | null>;
  /**
   * For a message its sender makes again on a retry (a REST issue under its Idempotency-Key: a retry sends
   * the same, to the same actor): as `sendAndWait`, but a journaled mailbox leaves it unrecorded while it is
   * applied in process, and records it only before it goes through the stream, or before the wait gives up
   * (a caller told "accepted" is backed by the record). Absent: `sendAndWait`.
   */
  sendAndWaitRetryable?(
    address: ActorAddress,
    envelope: ActorEnvelope,
    msgId: string,
    match: (n: StateNotification) => boolean,
    timeoutMs: number,
  ): Promise<StateNotification | null>;
  /** Watches for a committed state of an actor; `wait` resolves with it, or null at the timeout. */
  watch(
    address: ActorAddress,
    match: (n: StateNotification) => boolean,
  ): { wait(timeoutMs: number): Promise<StateNotification | null>; release(): void };
}

export function createActorMailbox(js: JetStreamClient, t: Topology, watcher?: StateWatcher): ActorMailbox {
  const send = (address: ActorAddress, envelope: ActorEnvelope, msgId: string) =>
    inSpan(
      `send ${address.type}`,
      { kind: SpanKind.PRODUCER, attributes: { 'lock.actor': `${address.type}/${address.id}` } },
      async () => {
        // The receiving actor's span continues this trace (W3C `traceparent` header).
        const h = headers();
        const traced = injectInto(h);
        try {
          await js.publish(actorSubject(t.actorRoot, t.partitions, address), encodeEnvelope(envelope), {
            msgID: msgId,
            ...(traced ? { headers: h } : {}),
          });
        } catch (e) {
          throw new LockError('LOCK.UNAVAILABLE', 'could not publish to the actor inbox', { cause: e });
        }
      },
    );
  return {
    send,
    watch(address, match) {
      if (!watcher) throw new Error('this mailbox has no state watcher');
      return watcher.watch(address, match);
    },
    sendAndWait(address, envelope, msgId, match, timeoutMs) {
      if (!watcher) throw new Error('this mailbox has no state watcher');
      return watchThenSend(watcher.watch(address, match), () => send(address, envelope, msgId), timeoutMs);
    },
  };
}

/** Sends with a watch already in place (none missed in between); the watch is released if the send fails. */
export async function watchThenSend(
  w: { wait(timeoutMs: number): Promise<StateNotification | null>; release(): void },
  send: () => Promise<void>,
  timeoutMs: number,
): Promise<StateNotification | null> {
  try {
    await send();
  } catch (e) {
    w.release();
    throw e;
  }
  return w.wait(timeoutMs);
}
