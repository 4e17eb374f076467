/**
 * Delivery in process: a message for an actor whose partition this process owns is handed to the partition's
 * worker, in the actor's order with the inbox's messages, without the JetStream round trip (a publish, its
 * ack, a delivery and its ack). Any other message, or one the worker could not apply (it is stopping, its
 * term was fenced, or the message fails for now), goes through the inbox stream as before.
 *
 * Only for senders that keep their message in PostgreSQL until the receiving actor's commit releases it — an
 * effect intent, a timer, a journaled gateway command, a platform event acknowledged only once applied — so
 * a message lost with a crashed process is sent again by its sweeper, as one JetStream lost would be. `send`
 * returns once the message is handed over, not once it is applied. The webhook router, which marks its row
 * done once its message is sent, keeps the inbox stream's mailbox.
 */
import { context, SpanKind } from '@opentelemetry/api';
import { inSpan } from '../observability/tracing.ts';
import type { ActorEnvelope } from './envelope.ts';
import type { StateNotification } from './notifications.ts';
import { type ActorMailbox, watchThenSend } from './mailbox.ts';
import type { ActorAddress } from './partitioning.ts';
import type { PartitionWorker } from './partitionWorker.ts';

export interface LocalDelivery {
  /** The worker of `address`'s partition when this process owns it. */
  ownerOf(address: ActorAddress): { worker: PartitionWorker; partition: number } | undefined;
  log(msg: string, data?: Record<string, unknown>): void;
}

export interface LocalFirstMailbox extends ActorMailbox {
  /** Resolves when every message handed over so far has been applied or sent on (tests, graceful stop). */
  idle(): Promise<void>;
  /** Messages handed over and not yet applied or sent on. */
  inFlight(): number;
  /**
   * A message whose sender makes it again on a retry: handed over without a record when this process owns
   * the actor; `record` is made (once) before it goes through the stream — not owned here, or not applied —
   * and before a wait that gives up returns (its caller is told "accepted"). The record's envelope is the one
   * sent through the stream (it names what releases the record).
   */
  sendAndWaitRecordingLate(
    address: ActorAddress,
    envelope: ActorEnvelope,
    msgId: string,
    match: (n: StateNotification) => boolean,
    timeoutMs: number,
    record: () => Promise<ActorEnvelope>,
  ): Promise<StateNotification | null>;
}

export function createLocalFirstMailbox(inner: ActorMailbox, local: LocalDelivery): LocalFirstMailbox {
  const pending = new Set<Promise<void>>();
  const send = (
    address: ActorAddress,
    envelope: ActorEnvelope,
    msgId: string,
    /**
     * What goes through the stream when the worker cannot apply it: the message as it is, by default, saying
     * `again` when vendor calls ran in a turn of it that ended without a commit.
     */
    sendOn: (again: boolean) => Promise<void> = (again) =>
      inner.send(address, again ? { ...envelope, again: true } : envelope, msgId),
  ): Promise<void> => {
    const owner = local.ownerOf(address);
    if (!owner) return sendOn(false);
    return inSpan(
      `send ${address.type}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: { 'lock.actor': `${address.type}/${address.id}`, 'lock.in_process': true },
      },
      async () => {
        const parent = context.active();
        const handed: Promise<void> = owner.worker
          .offer({ ...address, partition: owner.partition }, envelope, msgId, parent)
          .then(async ({ done, again }) => {
            if (!done) await sendOn(again);
          })
          .catch((e: unknown) => {
            // Still in its sender's record (see above), or recorded late by a sender that answers only once it
            // is (sendAndWaitRecordingLate): its sweeper sends it again.
            local.log('a message handed over in process could not be applied or sent on', {
              actor: `${address.type}/${address.id}`,
              err: String(e),
            });
          })
          .finally(() => pending.delete(handed));
        pending.add(handed);
      },
    );
  };
  return {
    send,
    watch: (address, match) => inner.watch(address, match),
    sendAndWait: (address, envelope, msgId, match, timeoutMs) =>
      watchThenSend(inner.watch(address, match), () => send(address, envelope, msgId), timeoutMs),
    async sendAndWaitRecordingLate(address, envelope, msgId, match, timeoutMs, record) {
      let recorded: Promise<ActorEnvelope> | undefined;
      // Made once; a record that could not be made is tried again by the next that needs it.
      const recordOnce = () =>
        (recorded ??= record().catch((e: unknown) => {
          recorded = undefined;
          throw e;
        }));
      const n = await watchThenSend(
        inner.watch(address, match),
        () =>
          send(address, envelope, msgId, async (again) => {
            const recorded = await recordOnce();
            await inner.send(address, again ? { ...recorded, again: true } : recorded, msgId);
          }),
        timeoutMs,
      );
      // Not applied yet, and its caller is about to be told it was accepted: recorded first. Applied later in
      // process, it does not release the record; the record's own delivery then finds it applied (a repeat).
      if (!n) await recordOnce();
      return n;
    },
    inFlight: () => pending.size,
    async idle() {
      while (pending.size > 0) await Promise.all(pending);
    },
  };
}
