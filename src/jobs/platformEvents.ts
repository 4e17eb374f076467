/**
 * Consumes PLATFORM_EVENTS and turns reservation events into credential actor messages. Credential ids
 * are derived from (tenant, reservation, kind) and message ids from the event id, so a redelivered or
 * duplicated event can never create a second credential. Events of one reservation are processed one
 * after another in stream order; different reservations proceed concurrently (up to `maxInFlight`). If a
 * crash lets a later event of a reservation overtake an earlier one, the credential machine still ends
 * right: a revoke that reaches a credential before its issue leaves a tombstone the issue cannot revive.
 */
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { Compile } from 'typebox/compile';
import type { ActorMailbox } from '../actors/index.ts';
import { ensureError, isLockError } from '../errors.ts';
import type { Clock } from '../ids.ts';
import { reservationCredentialId } from '../ids.ts';
import type { Topology } from '../io/nats/index.ts';
import { type IssuanceDeps, prepareIssue } from '../issuance/credentialRequests.ts';
import { type CredentialEvent, type KeyKind, keyKinds } from '../machines/index.ts';
import { ReservationConfirmed, ReservationDatesChanged, ReservationEnded } from './platformEventSchemas.ts';

const confirmed = Compile(ReservationConfirmed);
const ended = Compile(ReservationEnded);
const datesChanged = Compile(ReservationDatesChanged);

export interface PlatformConsumerDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  topology: Topology;
  mailbox: ActorMailbox;
  issuance: IssuanceDeps;
  clock: Clock;
  log: (msg: string, data?: Record<string, unknown>) => void;
  onEvent?: (type: string, outcome: string) => void;
  /** Unacknowledged platform events in flight (default 256). */
  maxInFlight?: number;
  /** How long an event taken by a process that died waits before it is delivered again (30 s). */
  ackWaitMs?: number;
}

export class PlatformEventConsumer {
  private stopping = false;
  private loop: Promise<void> = Promise.resolve();
  private close: (() => Promise<void>) | undefined;
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly d: PlatformConsumerDeps) {}

  async start(): Promise<void> {
    const t = this.d.topology;
    const maxInFlight = this.d.maxInFlight ?? 256;
    try {
      const info = await this.d.jsm.consumers.info(t.platformStream, t.platformConsumer);
      if (info.config.max_ack_pending !== maxInFlight) {
        await this.d.jsm.consumers.update(t.platformStream, t.platformConsumer, {
          max_ack_pending: maxInFlight,
        });
      }
    } catch {
      await this.d.jsm.consumers.add(t.platformStream, {
        durable_name: t.platformConsumer,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_ack_pending: maxInFlight,
        ack_wait: (this.d.ackWaitMs ?? 30_000) * 1_000_000,
        filter_subject: `${t.platformRoot}.>`,
      });
    }
    const c = await this.d.js.consumers.get(t.platformStream, t.platformConsumer);
    const messages = await c.consume({ max_messages: maxInFlight });
    this.close = async () => {
      await messages.close();
    };
    this.loop = (async () => {
      for await (const m of messages) {
        if (this.stopping) break;
        // Parsed once, here: the ordering key and the handler read the same body.
        const body = parseBody(m);
        const key = orderingKey(m, body);
        const tail = (this.tails.get(key) ?? Promise.resolve()).then(() => this.handle(m, body));
        this.tails.set(key, tail);
        void tail.then(() => {
          if (this.tails.get(key) === tail) this.tails.delete(key);
        });
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.close?.().catch(() => {});
    await this.loop.catch(() => {});
    await Promise.all(this.tails.values());
  }

  private async handle(m: JsMsg, body: unknown): Promise<void> {
    const name = m.subject.slice(this.d.topology.platformRoot.length + 1);
    if (body === NOT_JSON) {
      this.reject(m, name, 'not JSON');
      return;
    }
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        const outcome = await this.dispatch(name, body);
        this.d.onEvent?.(name, outcome);
        if (outcome.startsWith('rejected')) this.reject(m, name, outcome);
        else m.ack();
        return;
      } catch (e) {
        this.d.log('platform event failed; retrying', { event: name, attempt, err: ensureError(e).message });
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  }

  private reject(m: JsMsg, name: string, reason: string) {
    this.d.log('platform event rejected', { event: name, seq: m.seq, reason });
    this.d.onEvent?.(name, 'rejected');
    m.term();
  }

  private async dispatch(name: string, body: unknown): Promise<string> {
    const at = this.d.clock.now().toISOString();
    switch (name) {
      case 'reservation.confirmed.v1': {
        if (!confirmed.Check(body)) return `rejected: ${firstError(confirmed, body)}`;
        const e = body;
        if (Date.parse(e.checkOut) <= Date.parse(e.checkIn)) return 'rejected: checkOut is not after checkIn';
        for (const kind of (e.keyKinds ?? ['pin']) as KeyKind[]) {
          const id = reservationCredentialId(e.tenantId, e.reservationId, kind);
          try {
            const prepared = await prepareIssue(
              this.d.issuance,
              {
                tenantId: e.tenantId,
                propertyId: e.propertyId,
                reservationId: e.reservationId,
                holder: { kind: 'guest', ref: e.guestRef },
                kind,
                rooms: e.rooms,
                areas: [],
                validFrom: e.checkIn,
                validUntil: e.checkOut,
              },
              at,
            );
            await this.d.mailbox.send(
              { type: 'credential', id },
              { tenantId: e.tenantId, event: prepared.event },
              `${e.eventId}:${kind}`,
            );
          } catch (err) {
            if (isLockError(err, 'LOCK.PROPERTY_NOT_FOUND')) return 'rejected: unknown property';
            throw err;
          }
        }
        return 'issued';
      }
      case 'reservation.dates_changed.v1': {
        if (!datesChanged.Check(body)) return `rejected: ${firstError(datesChanged, body)}`;
        const e = body;
        if (Date.parse(e.checkOut) <= Date.parse(e.checkIn)) return 'rejected: checkOut is not after checkIn';
        // Every kind: the update saga of each issued credential; ignored by one never issued.
        for (const kind of keyKinds) {
          await this.d.mailbox.send(
            { type: 'credential', id: reservationCredentialId(e.tenantId, e.reservationId, kind) },
            {
              tenantId: e.tenantId,
              event: updateEvent(at, e.checkIn, e.checkOut),
            },
            `${e.eventId}:${kind}`,
          );
        }
        return 'updated';
      }
      case 'reservation.checked_out.v1':
      case 'reservation.cancelled.v1': {
        if (!ended.Check(body)) return `rejected: ${firstError(ended, body)}`;
        const e = body;
        const reason = name.startsWith('reservation.checked_out') ? 'checked_out' : 'cancelled';
        // Every kind, not just those in the read model: an issue still in flight must be revoked too.
        for (const kind of keyKinds) {
          const id = reservationCredentialId(e.tenantId, e.reservationId, kind);
          await this.d.mailbox.send(
            { type: 'credential', id },
            { tenantId: e.tenantId, event: revokeEvent(at, reason) },
            `${e.eventId}:${kind}`,
          );
        }
        return 'revoked';
      }
      default:
        return 'ignored';
    }
  }
}

const NOT_JSON = Symbol('not JSON');

function parseBody(m: JsMsg): unknown {
  try {
    return m.json();
  } catch {
    return NOT_JSON;
  }
}

/** Events of one reservation share a key (and so an order); anything unreadable gets its own. */
function orderingKey(m: JsMsg, body: unknown): string {
  const b = body as { tenantId?: unknown; reservationId?: unknown } | null;
  if (
    typeof b === 'object' &&
    b !== null &&
    typeof b.tenantId === 'string' &&
    typeof b.reservationId === 'string'
  )
    return `${b.tenantId}/${b.reservationId}`;
  return `seq:${m.seq}`;
}

function updateEvent(
  at: string,
  validFrom: string,
  validUntil: string,
): Extract<CredentialEvent, { type: 'credential.update' }> {
  return { type: 'credential.update', at, validFrom, validUntil };
}

function revokeEvent(at: string, reason: string): Extract<CredentialEvent, { type: 'credential.revoke' }> {
  return { type: 'credential.revoke', at, reason };
}

function firstError(
  c: { Errors(v: unknown): Iterable<{ message: string; instancePath?: string }> },
  v: unknown,
): string {
  for (const e of c.Errors(v)) return `${e.instancePath ?? ''} ${e.message}`.trim();
  return 'invalid';
}
