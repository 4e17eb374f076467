/**
 * Forwards PLATFORM_EVENTS to reservation actors (one per tenant and reservation) and staff actors (one per
 * tenant and platform user: shifts and deactivation). A platform event is acknowledged only once its actor
 * has committed it — PostgreSQL, not JetStream, is the record: if the actor's inbox loses the message, the
 * platform event is delivered again and forwarded again.
 *
 * Order across processes is the reservation actor's business: each forwarded event carries its place in the
 * platform's stream (the stream's identity and sequence), and the actor applies dates and ends by that place,
 * not by arrival. So events are forwarded concurrently, from any number of processes.
 *
 * A confirmation is forwarded with its credentials prepared (rooms resolved to locks, PINs sealed), one per
 * key kind, with ids derived from (tenant, reservation, kind): a redelivered event can never make a second.
 */
import { SpanKind } from '@opentelemetry/api';
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { sql } from 'kysely';
import type { Static } from 'typebox';
import { Compile } from 'typebox/compile';
import type { ActorMailbox } from '../actors/index.ts';
import { ensureError, isLockError } from '../errors.ts';
import type { Clock } from '../ids.ts';
import { reservationActorId, reservationCredentialId, shiftCredentialId, staffActorId } from '../ids.ts';
import { type Db, withTenant } from '../io/db/index.ts';
import { contextFromHeaders, inSpan } from '../observability/tracing.ts';
import type { Topology } from '../io/nats/index.ts';
import {
  type CredentialRequest,
  type IssuanceDeps,
  planRooms,
  prepareIssue,
} from '../issuance/credentialRequests.ts';
import {
  type KeyKind,
  keyKinds,
  type ReservationEvent,
  type RoomPlans,
  type StaffEvent,
  type StreamOrder,
} from '../machines/index.ts';
import {
  ReservationConfirmed,
  ReservationDatesChanged,
  ReservationEnded,
  ReservationRoomsChanged,
  StaffShift,
  UserDeactivated,
} from './platformEventSchemas.ts';

const confirmed = Compile(ReservationConfirmed);
const ended = Compile(ReservationEnded);
const datesChanged = Compile(ReservationDatesChanged);
const shift = Compile(StaffShift);
const roomsChanged = Compile(ReservationRoomsChanged);
const deactivated = Compile(UserDeactivated);

/** The kinds of a staff master key (keypad codes; cards need a number, app keys an account). */
const MASTER_KEY_KINDS: KeyKind[] = ['pin'];

export interface PlatformConsumerDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  topology: Topology;
  /** A mailbox with a state watcher: the forwarder waits for its message's commit. */
  mailbox: ActorMailbox;
  runtimeDb: Db;
  issuance: IssuanceDeps;
  clock: Clock;
  log: (msg: string, data?: Record<string, unknown>) => void;
  onEvent?: (type: string, outcome: string) => void;
  /** Unacknowledged platform events in flight (default 256). */
  maxInFlight?: number;
  /** How long an event taken by a process that died waits before it is delivered again (30 s). */
  ackWaitMs?: number;
  /** How long to wait for the reservation's commit before checking the record and trying later (5 s). */
  commitWaitMs?: number;
  /**
   * `ordinary` (default): every platform event but identity's. `priority`: identity's only
   * (`iam.user.deactivated`), on a consumer of its own, so a deactivation never waits behind a backlog of
   * reservations in the stream.
   */
  lane?: 'ordinary' | 'priority';
}

/** The identity events the priority lane takes (and the ordinary lane leaves to it). */
const PRIORITY_PREFIX = 'iam.';

type Actor = { type: 'reservation' | 'staff'; id: string };

type Forward =
  | {
      kind: 'forward';
      tenantId: string;
      to: { type: 'reservation' | 'staff'; id: string };
      event: ReservationEvent | StaffEvent;
    }
  | { kind: 'rejected'; reason: string }
  | { kind: 'ignored' };

export class PlatformEventConsumer {
  private stopping = false;
  private loop: Promise<void> = Promise.resolve();
  private messages: ConsumerMessages | undefined;
  private epoch = '';
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly d: PlatformConsumerDeps) {}

  async start(): Promise<void> {
    this.messages = await this.open();
    this.loop = this.supervise(this.messages);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.messages?.close().catch(() => {});
    await this.loop.catch(() => {});
    await Promise.all(this.inFlight);
  }

  private get priority(): boolean {
    return this.d.lane === 'priority';
  }

  private async open(): Promise<ConsumerMessages> {
    const t = this.d.topology;
    const maxInFlight = this.d.maxInFlight ?? 256;
    const name = this.priority ? `${t.platformConsumer}-priority` : t.platformConsumer;
    try {
      const info = await this.d.jsm.consumers.info(t.platformStream, name);
      if (info.config.max_ack_pending !== maxInFlight) {
        await this.d.jsm.consumers.update(t.platformStream, name, {
          max_ack_pending: maxInFlight,
        });
      }
    } catch {
      await this.d.jsm.streams.info(t.platformStream).catch(() => {
        throw new Error(
          `the platform's event stream ${t.platformStream} does not exist (it is the platform's; ` +
            'CREATE_PLATFORM_STREAM=true makes one for a standalone service)',
        );
      });
      await this.d.jsm.consumers.add(t.platformStream, {
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_ack_pending: maxInFlight,
        ack_wait: (this.d.ackWaitMs ?? 30_000) * 1_000_000,
        // NATS 2.9 has one filter per consumer: the ordinary lane takes everything and leaves `iam.` alone.
        filter_subject: this.priority ? `${t.platformRoot}.${PRIORITY_PREFIX}>` : `${t.platformRoot}.>`,
      });
    }
    this.epoch = (await this.d.jsm.streams.info(t.platformStream)).created;
    const c = await this.d.js.consumers.get(t.platformStream, name);
    return c.consume({ max_messages: maxInFlight, abort_on_missing_resource: true });
  }

  /** Consumes; if the stream or consumer goes away, opens it again once it is back. */
  private async supervise(first: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | undefined = first;
    for (let attempt = 0; !this.stopping;) {
      if (messages) {
        try {
          for await (const m of messages) {
            if (this.stopping) break;
            // A platform event continues its publisher's trace, if it names one (`traceparent` header).
            const p = inSpan(
              `process ${m.subject}`,
              { kind: SpanKind.CONSUMER, attributes: { 'messaging.message.id': m.seq } },
              () => this.handle(m, this.epoch),
              contextFromHeaders(m.headers),
            ).finally(() => this.inFlight.delete(p));
            this.inFlight.add(p);
          }
        } catch (e) {
          this.d.log('platform consumer ended', { err: ensureError(e).message });
        }
        messages = undefined;
        if (this.stopping) break;
      }
      await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)));
      if (this.stopping) break;
      try {
        messages = await this.open();
        this.messages = messages;
        attempt = 0;
      } catch (e) {
        attempt++;
        this.d.log('platform consumer cannot open yet', { err: ensureError(e).message });
      }
    }
  }

  private async handle(m: JsMsg, epoch: string): Promise<void> {
    const name = m.subject.slice(this.d.topology.platformRoot.length + 1);
    if (!this.priority && name.startsWith(PRIORITY_PREFIX)) {
      m.ack(); // the priority lane's
      return;
    }
    let body: unknown;
    try {
      body = m.json();
    } catch {
      this.reject(m, name, 'not JSON');
      return;
    }
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        const f = await this.interpret(name, body, { epoch, seq: m.seq });
        if (f.kind === 'rejected') {
          this.reject(m, name, f.reason);
          return;
        }
        if (f.kind === 'ignored') {
          this.d.onEvent?.(name, 'ignored');
          m.ack();
          return;
        }
        const delivery = m.info.deliveryCount;
        const eventId = (f.event as { eventId: string }).eventId;
        // Delivered again: it may be in the record already (the acknowledgement was lost).
        if (delivery > 1 && (await this.recorded(f.tenantId, f.to, eventId))) {
          this.d.onEvent?.(name, 'forwarded');
          m.ack();
          return;
        }
        if (await this.forward(f, delivery)) {
          this.d.onEvent?.(name, 'forwarded');
          m.ack();
          return;
        }
        const refused = await this.refused(f.tenantId, f.to, eventId);
        if (refused) {
          this.reject(m, name, `the ${f.to.type} refused it: ${refused}`);
          return;
        }
        // Not applied yet (its partition is changing hands, or the message was lost): again, later each time.
        this.d.onEvent?.(name, 'pending');
        m.nak(Math.min(30_000, 1000 * 2 ** Math.min(5, delivery - 1)));
        return;
      } catch (e) {
        // Preparing an issue found no such property (of that tenant): the event names nothing of ours.
        if (isLockError(e, 'LOCK.PROPERTY_NOT_FOUND')) {
          this.reject(m, name, 'unknown property');
          return;
        }
        this.d.log('platform event failed; retrying', { event: name, attempt, err: ensureError(e).message });
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  }

  /**
   * Sends to the reservation and waits for its commit of this event; true once it is in the record. A
   * redelivered event is sent under a message id of its own (JetStream keeps the ids of messages it has
   * since lost, and would drop it as a duplicate); the reservation recognizes a repeat by its `seen` ids.
   */
  private async forward(f: Extract<Forward, { kind: 'forward' }>, delivery: number): Promise<boolean> {
    const eventId = (f.event as { eventId: string }).eventId;
    const msgId = delivery > 1 ? `${eventId}:r${delivery}` : eventId;
    const applied = await this.d.mailbox.sendAndWait(
      f.to,
      { tenantId: f.tenantId, event: f.event, by: 'platform' },
      msgId,
      (n) => n.msgId === msgId,
      this.d.commitWaitMs ?? 5000,
    );
    return applied !== null || (await this.recorded(f.tenantId, f.to, eventId));
  }

  /** Why the actor refused the event's message (recorded in `rejected_messages`), or null. */
  private async refused(tenantId: string, to: Actor, eventId: string): Promise<string | null> {
    const { rows } = await withTenant(this.d.runtimeDb, tenantId, (tx) =>
      sql<{ code: string; reason: string }>`
        select code, reason from rejected_messages
         where actor_type = ${to.type} and actor_id = ${to.id}
           and (msg_id = ${eventId} or msg_id like ${`${eventId}:r%`})
         limit 1`.execute(tx),
    );
    return rows[0] ? `${rows[0].code} ${rows[0].reason}` : null;
  }

  /** The actor has applied the event already (a redelivery, or a notification missed). */
  private async recorded(tenantId: string, to: Actor, eventId: string): Promise<boolean> {
    const { rows } = await withTenant(this.d.runtimeDb, tenantId, (tx) =>
      sql<{ seen: boolean }>`
        select coalesce(snapshot->'context'->'seen' ? ${eventId}, false) as seen from actor_snapshots
         where actor_type = ${to.type} and actor_id = ${to.id}`.execute(tx),
    );
    return rows[0]?.seen === true;
  }

  private reject(m: JsMsg, name: string, reason: string) {
    this.d.log('platform event rejected', { event: name, seq: m.seq, reason });
    this.d.onEvent?.(name, 'rejected');
    m.term();
  }

  /** What a platform event means for its reservation actor. */
  private async interpret(name: string, body: unknown, order: StreamOrder): Promise<Forward> {
    const at = this.d.clock.now().toISOString();
    switch (name) {
      case 'reservation.confirmed.v1':
      case 'reservation.imported.v1': {
        if (!confirmed.Check(body)) return { kind: 'rejected', reason: firstError(confirmed, body) };
        const e = body;
        if (Date.parse(e.checkOut) <= Date.parse(e.checkIn))
          return { kind: 'rejected', reason: 'checkOut is not after checkIn' };
        // An imported stay (a PMS migration) whose check-in has passed gets no key on its own: the reservation
        // is recorded (its dates and end reach what an operator issues for it), nothing more.
        const pastImport =
          name === 'reservation.imported.v1' && Date.parse(e.checkIn) <= this.d.clock.now().getTime();
        if (pastImport && !(await this.d.issuance.readModel.property(e.tenantId, e.propertyId)))
          return { kind: 'rejected', reason: 'unknown property' };
        const issues = await this.prepareAll(
          (pastImport ? [] : (e.keyKinds ?? ['pin'])) as KeyKind[],
          (kind) => ({
            tenantId: e.tenantId,
            propertyId: e.propertyId,
            reservationId: e.reservationId,
            holder: { kind: 'guest', ref: e.guestRef },
            kind,
            rooms: e.rooms,
            areas: [],
            validFrom: e.checkIn,
            validUntil: e.checkOut,
          }),
          (kind) => reservationCredentialId(e.tenantId, e.reservationId, kind),
          at,
        );
        return {
          kind: 'forward',
          tenantId: e.tenantId,
          to: { type: 'reservation', id: reservationActorId(e.tenantId, e.reservationId) },
          event: {
            type: 'reservation.confirmed',
            at,
            eventId: e.eventId,
            order,
            propertyId: e.propertyId,
            checkIn: e.checkIn,
            checkOut: e.checkOut,
            issues,
          },
        };
      }
      case 'reservation.dates_changed.v1': {
        if (!datesChanged.Check(body)) return { kind: 'rejected', reason: firstError(datesChanged, body) };
        const e = body;
        if (Date.parse(e.checkOut) <= Date.parse(e.checkIn))
          return { kind: 'rejected', reason: 'checkOut is not after checkIn' };
        return {
          kind: 'forward',
          tenantId: e.tenantId,
          to: { type: 'reservation', id: reservationActorId(e.tenantId, e.reservationId) },
          event: {
            type: 'reservation.datesChanged',
            at,
            eventId: e.eventId,
            order,
            checkIn: e.checkIn,
            checkOut: e.checkOut,
          },
        };
      }
      case 'reservation.checked_out.v1':
      case 'reservation.cancelled.v1': {
        if (!ended.Check(body)) return { kind: 'rejected', reason: firstError(ended, body) };
        const e = body;
        return {
          kind: 'forward',
          tenantId: e.tenantId,
          to: { type: 'reservation', id: reservationActorId(e.tenantId, e.reservationId) },
          event: {
            type: 'reservation.ended',
            at,
            eventId: e.eventId,
            order,
            reason: name.startsWith('reservation.checked_out') ? 'checked_out' : 'cancelled',
          },
        };
      }
      case 'reservation.rooms_changed.v1': {
        if (!roomsChanged.Check(body)) return { kind: 'rejected', reason: firstError(roomsChanged, body) };
        const e = body;
        // Each key kind's locks in the new rooms (the credential keeps its own card number or account).
        const plans: RoomPlans = {};
        for (const kind of keyKinds) {
          const { plan } = await planRooms(this.d.issuance, e.tenantId, e.propertyId, e.rooms, kind, {
            hasHolderDetail: true,
          });
          plans[kind] = plan;
        }
        return {
          kind: 'forward',
          tenantId: e.tenantId,
          to: { type: 'reservation', id: reservationActorId(e.tenantId, e.reservationId) },
          event: { type: 'reservation.roomsChanged', at, eventId: e.eventId, order, rooms: e.rooms, plans },
        };
      }
      case 'staff.shift.started.v1':
      case 'staff.shift.ended.v1': {
        if (!shift.Check(body)) return { kind: 'rejected', reason: firstError(shift, body) };
        const e = body;
        if (Date.parse(e.endsAt) <= Date.parse(e.startsAt))
          return { kind: 'rejected', reason: 'endsAt is not after startsAt' };
        const to = { type: 'staff' as const, id: staffActorId(e.tenantId, e.staffId) };
        if (name === 'staff.shift.ended.v1')
          return {
            kind: 'forward',
            tenantId: e.tenantId,
            to,
            event: {
              type: 'staff.shiftEnded',
              at,
              eventId: e.eventId,
              order,
              shiftId: e.shiftId,
              propertyId: e.propertyId,
            },
          };
        return this.shiftStarted(e, to, at, order);
      }
      case 'iam.user.deactivated.v1': {
        if (!deactivated.Check(body)) return { kind: 'rejected', reason: firstError(deactivated, body) };
        const e = body;
        return {
          kind: 'forward',
          tenantId: e.tenantId,
          to: { type: 'staff', id: staffActorId(e.tenantId, e.userId) },
          event: {
            type: 'staff.deactivated',
            at,
            eventId: e.eventId,
            order,
            // What the record holds of the user's, besides what the staff actor knows (credentials made before
            // they linked themselves to it). The platform's user id is the staff holder's `ref`.
            credentialIds: await this.d.issuance.readModel.liveCredentialsOfHolder(
              e.tenantId,
              'staff',
              e.userId,
            ),
          },
        };
      }
      default:
        return { kind: 'ignored' };
    }
  }

  /** One prepared issue per key kind (rooms resolved, PINs sealed), under ids the event derives. */
  private async prepareAll(
    kinds: KeyKind[],
    request: (kind: KeyKind) => CredentialRequest,
    credentialId: (kind: KeyKind) => string,
    at: string,
  ) {
    const issues = [];
    for (const kind of kinds)
      issues.push({
        credentialId: credentialId(kind),
        event: (await prepareIssue(this.d.issuance, request(kind), at)).event,
      });
    return issues;
  }

  /**
   * A shift's start, with its master keys prepared: its areas resolved to the rooms whose locks are in them
   * (active devices), one credential per key kind with an id derived from (tenant, shift, kind). Areas with
   * no lock are refused with the reason: a master key that opens nothing is a mistake to report.
   */
  private async shiftStarted(
    e: Static<typeof StaffShift>,
    to: Actor,
    at: string,
    order: StreamOrder,
  ): Promise<Forward> {
    const rooms = await this.d.issuance.readModel.roomsInAreas(e.tenantId, e.propertyId, e.areas);
    if (rooms.length === 0)
      return { kind: 'rejected', reason: `no active lock in the shift's areas (${e.areas.join(', ')})` };
    const issues = await this.prepareAll(
      MASTER_KEY_KINDS,
      (kind) => ({
        tenantId: e.tenantId,
        propertyId: e.propertyId,
        reservationId: null,
        holder: { kind: 'staff', ref: e.staffId },
        kind,
        rooms,
        areas: e.areas,
        validFrom: e.startsAt,
        validUntil: e.endsAt,
      }),
      (kind) => shiftCredentialId(e.tenantId, e.shiftId, kind),
      at,
    );
    return {
      kind: 'forward',
      tenantId: e.tenantId,
      to,
      event: {
        type: 'staff.shiftStarted',
        at,
        eventId: e.eventId,
        order,
        shiftId: e.shiftId,
        propertyId: e.propertyId,
        startsAt: e.startsAt,
        endsAt: e.endsAt,
        issues,
      },
    };
  }
}

function firstError(
  c: { Errors(v: unknown): Iterable<{ message: string; instancePath?: string }> },
  v: unknown,
): string {
  for (const e of c.Errors(v)) return `${e.instancePath ?? ''} ${e.message}`.trim();
  return 'invalid';
}
