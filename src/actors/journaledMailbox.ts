/**
 * A mailbox whose every message is journaled in PostgreSQL before it is published: the gateway's commands
 * (issue, change, revoke, configuration). The journal entry is an effect intent (`sendMessage`) released by
 * the receiving actor's commit; if JetStream loses the message after acknowledging it (nats-server 2.9 does
 * not fsync first), the effect sweeper sends it again. So a 202 ("accepted, still in progress") is backed by
 * the record, not by JetStream alone.
 */
import { journalMessage } from '../io/db/batchedCalls.ts';
import { traceparentOf } from '../observability/tracing.ts';
import type { Db } from '../io/db/index.ts';
import type { MessageIntent } from '../machines/index.ts';
import type { ActorEnvelope } from './envelope.ts';
import type { LocalFirstMailbox } from './localMailbox.ts';
import type { ActorMailbox } from './mailbox.ts';
import type { ActorAddress } from './partitioning.ts';

export function createJournaledMailbox(
  inner: ActorMailbox | LocalFirstMailbox,
  db: Db,
  claimMs: number,
): ActorMailbox {
  const journal = async (
    address: ActorAddress,
    envelope: ActorEnvelope,
    msgId: string,
  ): Promise<ActorEnvelope> => {
    const id = `cmd:${address.type}:${address.id}:${msgId}`;
    const intent: MessageIntent = {
      intent: 'sendMessage',
      operationId: msgId,
      to: address,
      event: envelope.event,
      ...(envelope.by !== undefined ? { by: envelope.by } : {}),
    };
    const trace = traceparentOf();
    await journalMessage(db, {
      tenant: envelope.tenantId,
      id,
      type: address.type,
      actor: address.id,
      intent,
      claimMs,
      // A sweeper's resend of this command continues the sender's trace.
      ...(trace ? { trace } : {}),
    });
    return { ...envelope, intentId: id };
  };
  const sendAndWait: ActorMailbox['sendAndWait'] = async (address, envelope, msgId, match, timeoutMs) =>
    inner.sendAndWait(address, await journal(address, envelope, msgId), msgId, match, timeoutMs);
  return {
    watch: (address, match) => inner.watch(address, match),
    async send(address, envelope, msgId) {
      await inner.send(address, await journal(address, envelope, msgId), msgId);
    },
    sendAndWait,
    // Journaled only when it must be: applied in process first, the command needs no journal entry (its
    // sender makes it again on a retry); through the stream, or answered as accepted, it does.
    async sendAndWaitRetryable(address, envelope, msgId, match, timeoutMs) {
      if (!('sendAndWaitRecordingLate' in inner))
        return sendAndWait(address, envelope, msgId, match, timeoutMs);
      return inner.sendAndWaitRecordingLate(address, envelope, msgId, match, timeoutMs, () =>
        journal(address, envelope, msgId),
      );
    },
  };
}
