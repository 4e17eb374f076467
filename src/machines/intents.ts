/**
 * The intents machines emit. Each is a named xstate action with an empty body: `transition()` returns
 * them with resolved params, the runtime journals them in the actor's transaction and runs them after.
 */
export type KeyKind = 'pin' | 'mobile_key' | 'card';
export const keyKinds = ['pin', 'mobile_key', 'card'] as const satisfies readonly KeyKind[];

/** Where one grant of a credential lives: one room's lock device on one vendor. */
export interface GrantTarget {
  roomId: string;
  lockDeviceId: string;
  vendor: string;
  vendorDeviceRef: string;
}

/** A vendor failure as a machine sees it: a code from the normalized set and whether a retry may help. */
export interface EffectError {
  code: string;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
}

/** What every vendor intent carries: its grant's target, its operation, its credential. */
interface GrantIntentBase extends GrantTarget {
  operationId: string;
  credentialId: string;
  propertyId: string;
  kind: KeyKind;
  attempt: number;
  /** Ahead of ordinary vendor work (the keys of a deactivated account). */
  priority?: boolean;
}

export interface IssueGrantIntent extends GrantIntentBase {
  intent: 'issueGrant';
  /** 0 for a credential's first issue on this lock; later generations replace what the vendor lost or refused. */
  generation?: number;
  validFrom: string;
  validUntil: string;
  /** Encrypted secret (the PIN, a card's number or the guest's app account), never plaintext. */
  secret: string | null;
}

/** An intent on a grant already issued (or possibly issued): found by reference, or by its issue. */
interface IssuedGrantIntentBase extends GrantIntentBase {
  /** The operation that issued the grant: lets the adapter find it when `vendorRef` is unknown. */
  issueOperationId: string;
  vendorRef: string | null;
}

export interface RevokeGrantIntent extends IssuedGrantIntentBase {
  intent: 'revokeGrant';
}

export interface ModifyGrantIntent extends IssuedGrantIntentBase {
  intent: 'modifyGrant';
  validFrom: string;
  validUntil: string;
}

export type VendorIntent = IssueGrantIntent | RevokeGrantIntent | ModifyGrantIntent;

/**
 * A message to another actor, journaled like a vendor call: delivered by the effect runner, and its row
 * removed by the receiving actor's commit (so it is delivered again until that actor has it).
 */
export interface MessageIntent {
  intent: 'sendMessage';
  /** Unique per message: its message id. */
  operationId: string;
  to: { type: string; id: string };
  event: { type: string; at: string; [k: string]: unknown };
  /** Who caused it (a gateway command's caller), kept for the audit log when the message is sent again. */
  by?: string;
  /**
   * The receiving actor cannot exist yet: its sender drew its id (a REST issue's credential, drawn with the
   * request's fresh Idempotency-Key claim). Its first delivery need not read the actor before calling a vendor.
   */
  newActor?: true;
}

/**
 * A message from an actor fed by the platform (a reservation, a member of staff) to one of its credentials:
 * its id names the sender, the reason (`key`) and the credential, so the same decision sends it once.
 */
export function credentialMessage(
  from: string,
  key: string,
  credentialId: string,
  event: MessageIntent['event'],
): { type: 'sendMessage'; params: MessageIntent } {
  return {
    type: 'sendMessage',
    params: {
      intent: 'sendMessage',
      operationId: `${from}:${key}:${credentialId}`,
      to: { type: 'credential', id: credentialId },
      event,
    },
  };
}

/** Every intent the runtime journals and the effect runner carries out. */
export type EffectIntent = VendorIntent | MessageIntent;
export type VendorIntentName = VendorIntent['intent'];

/** A durable timer: delivered to the actor as `event` once `dueAt` has passed. Same key replaces. */
export interface TimerIntent {
  key: string;
  dueAt: string;
  event: { type: string; [k: string]: unknown };
}

/** A domain event for the outbox: published as `melmastoon.lock.<aggregate>.<verb>.v1`. */
export interface DomainEventIntent {
  /** Another aggregate than the actor's own (a staff credential's `master_key` events). */
  aggregate?: string;
  verb: string;
  data?: Record<string, unknown>;
}

/** The outcome of a vendor intent, returned to the actor as an ordinary event. */
export type EffectOutcomeEvent =
  | {
      type: `effect.done.${VendorIntentName}`;
      at: string;
      operationId: string;
      /** The attempt this answers: an answer to an earlier attempt of the same operation is stale. */
      attempt: number;
      vendorRef?: string | null;
      /** Sealed: the PIN the vendor chose for this grant (vendors that generate PINs). */
      vendorSecret?: string;
    }
  | {
      type: `effect.failed.${VendorIntentName}`;
      at: string;
      operationId: string;
      attempt: number;
      error: EffectError;
    };

/** Builds the success event of an intent. Pure. */
export function effectDone(
  intent: VendorIntent,
  at: string,
  vendorRef: string | null,
  vendorSecret?: string,
): EffectOutcomeEvent {
  return {
    type: `effect.done.${intent.intent}`,
    at,
    operationId: intent.operationId,
    attempt: intent.attempt,
    vendorRef,
    ...(vendorSecret ? { vendorSecret } : {}),
  };
}

/** Builds the failure event of an intent. Pure. */
export function effectFailed(intent: VendorIntent, at: string, error: EffectError): EffectOutcomeEvent {
  return {
    type: `effect.failed.${intent.intent}`,
    at,
    operationId: intent.operationId,
    attempt: intent.attempt,
    error,
  };
}
