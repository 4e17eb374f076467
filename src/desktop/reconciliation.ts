/**
 * Reconciliation of a desk's provisional credentials (`POST /sync/v1/push`): each one is checked and decided
 * once, and the decision is recorded before anything is done about it, so a push sent again — after a lost
 * answer, a crash on either side, or replayed — gets the same answer and applies nothing twice.
 *
 * The checks, in order (the first that fails is the reason the desk sees): the record is well formed and is
 * the pushing agent's; its certificate is the service's, was valid when the record was issued, is this
 * agent's and binds its enrolled device key; the record is signed by that key; neither agent nor certificate
 * is revoked; it is within the certificate's scope. Then against the property as it is now: the id is not
 * another credential's, every room has a desk-encoded (generic-wiegand) lock, the reservation was not
 * cancelled, and the room was not let to someone else meanwhile. A reservation that ends earlier shortens the
 * credential (accepted with changes); rooms let meanwhile are dropped while others remain.
 *
 * An accepted record becomes the credential with the same id, its grants adopted as already written (the
 * card exists): `credential.issue` with `adopted`, through the journaled mailbox, sent again on every push of
 * it until it lands (the actor ignores a repeat).
 */
import { sql } from 'kysely';
import type { ActorMailbox } from '../actors/index.ts';
import type { Clock } from '../ids.ts';
import { reservationActorId } from '../ids.ts';
import { type Db, type Tx, withTenant } from '../io/db/index.ts';
import type { ProvisionalChange } from '../io/db/schema.ts';
import { type IssuanceDeps, planRooms } from '../issuance/credentialRequests.ts';
import type { GrantTarget, IssueCredentialEvent } from '../machines/index.ts';
import { type ReadModel, type ReservationStay, reservationStayIn } from '../readModel/index.ts';
import type { SecretBox } from '../io/crypto/secretBox.ts';
import type { CertificateStore } from './certificateStore.ts';
import { checkCertificate, type OfflineCertificate } from './certificates.ts';
import {
  checkPushItem,
  type ProvisionalIssuance,
  type ProvisionalRejection,
  provisionalDigest,
  provisionalSignedBy,
  type PushItem,
  type PushResult,
} from './provisional.ts';

/** The pushing agent, as its signed request proved it (revoked agents are heard, to be told why). */
export interface PushingAgent {
  agentId: string;
  tenantId: string;
  propertyId: string;
  publicKey: string;
  status: string;
}

export interface ReconcilerDeps {
  db: Db;
  readModel: ReadModel;
  issuance: IssuanceDeps;
  secrets: SecretBox;
  mailbox: ActorMailbox;
  certificates: CertificateStore;
  servicePublicKey: () => Promise<string>;
  clock: Clock;
  /** How long a push waits for its accepted credentials to settle before answering their status as it is. */
  waitMs?: number;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

/** How far a desk's clock may run ahead of the service's. */
const CLOCK_SLACK_MS = 5 * 60_000;
const DESK_VENDOR = 'generic-wiegand';
const LIVE = ['requested', 'issuing', 'active', 'updating'];

/** What the read-model checks found for an acceptable record: its window as accepted and its rooms' locks. */
type Planned = { changes: ProvisionalChange[]; validUntil: string; targets: GrantTarget[] };

type Decision = {
  outcome: PushResult['outcome'];
  reason: string | null;
  changes: ProvisionalChange[];
  /** The rooms and end as accepted (a change may drop rooms or shorten it). */
  rooms?: string[];
  validUntil?: string;
};
const reject = (why: ProvisionalRejection, detail: string): Decision => ({
  outcome: 'rejected',
  reason: `${why}: ${detail}`,
  changes: [],
});

/**
 * What a reservation's stay says of a card for it: another property's or cancelled, rejected; a stay ending
 * before the card, the card shortened to it.
 */
function checkStay(
  p: ProvisionalIssuance,
  stay: ReservationStay | null,
  validUntil: string,
): Decision | { changes: ProvisionalChange[]; validUntil: string } {
  // A reservation known only by a credential linked to it (not confirmed yet) names no property.
  if (stay?.propertyId && stay.propertyId !== p.propertyId)
    return reject('RESERVATION_MISMATCH', `reservation ${p.reservationId} is another property's`);
  if (stay?.endReason === 'cancelled')
    return reject('RESERVATION_CANCELLED', `reservation ${p.reservationId} was cancelled`);
  if (stay?.checkOut && Date.parse(stay.checkOut) < Date.parse(validUntil))
    return {
      changes: [
        { field: 'validUntil', from: validUntil, to: stay.checkOut, reason: 'the stay ends earlier' },
      ],
      validUntil: stay.checkOut,
    };
  return { changes: [], validUntil };
}

/** A provisional card as the service recorded it (no card number): what staff see of a desk's cards. */
export interface ProvisionalRecordView {
  id: string;
  agentId: string;
  rooms: string[];
  validFrom: string;
  validUntil: string;
  reservationId: string | null;
  uid: string | null;
  outcome: PushResult['outcome'];
  reason: string | null;
  issuedAt: string;
  receivedAt: string;
}

export interface Reconciler {
  push(agent: PushingAgent, items: unknown[]): Promise<PushResult[]>;
  /** A property's provisional cards, newest first (at most 500), optionally of one outcome. */
  list(
    tenantId: string,
    propertyId: string,
    outcome?: PushResult['outcome'],
  ): Promise<ProvisionalRecordView[]>;
}

export function createReconciler(d: ReconcilerDeps): Reconciler {
  /** The signature chain: the certificate is the service's and this agent's, the record its device key's. */
  async function checkChain(agent: PushingAgent, item: PushItem): Promise<Decision | null> {
    const p = item.issuance;
    if (p.agentId !== agent.agentId || p.propertyId !== agent.propertyId)
      return reject('AGENT_MISMATCH', 'the record names another agent or property than the one pushing it');
    const issuedAt = new Date(p.issuedAt);
    const checked = checkCertificate(item.certificate, await d.servicePublicKey(), issuedAt);
    if (!checked.ok) {
      const why: Record<typeof checked.problem, ProvisionalRejection> = {
        MALFORMED: 'CERTIFICATE_MALFORMED',
        BAD_SIGNATURE: 'CERTIFICATE_BAD_SIGNATURE',
        NOT_YET_VALID: 'CERTIFICATE_NOT_YET_VALID',
        EXPIRED: 'CERTIFICATE_EXPIRED',
      };
      return reject(why[checked.problem], `the certificate does not hold at the issue time ${p.issuedAt}`);
    }
    const cert: OfflineCertificate = checked.cert;
    if (
      cert.agentId !== agent.agentId ||
      cert.tenantId !== agent.tenantId ||
      cert.propertyId !== agent.propertyId
    )
      return reject('CERTIFICATE_NOT_THIS_AGENT', `certificate ${cert.serial} is another agent's`);
    if (cert.serial !== p.certificateSerial)
      return reject('CERTIFICATE_NOT_THIS_AGENT', 'the record names another certificate than the one sent');
    if (cert.agentKey !== agent.publicKey)
      return reject('DEVICE_MISMATCH', 'the certificate binds another device key than the enrolled one');
    if (!provisionalSignedBy(p, cert.agentKey))
      return reject('BAD_SIGNATURE', 'the record is not signed by the device key its certificate names');
    return null;
  }

  /**
   * Whether the agent and its certificate still stand (read in the deciding transaction, holding their rows
   * so a revocation committing meanwhile comes before the decision or after it, never between), and the
   * record is within the certificate's scope.
   */
  async function checkStanding(tx: Tx, agent: PushingAgent, item: PushItem): Promise<Decision | null> {
    const p = item.issuance;
    const cert = item.certificate as unknown as OfflineCertificate;
    const issuedAt = new Date(p.issuedAt);
    const agentRow = await tx
      .selectFrom('desktop_agents')
      .select('status')
      .where('id', '=', agent.agentId)
      .forShare()
      .executeTakeFirst();
    const certRow = await tx
      .selectFrom('offline_certificates')
      .select(['agent_id', 'revoked_at'])
      .where('serial', '=', cert.serial)
      .forShare()
      .executeTakeFirst();
    if (!certRow || certRow.agent_id !== agent.agentId)
      return reject('CERTIFICATE_UNKNOWN', `certificate ${cert.serial} was never issued here`);
    if (agentRow?.status !== 'active') return reject('AGENT_REVOKED', `agent ${agent.agentId} is revoked`);
    if (certRow.revoked_at) return reject('CERTIFICATE_REVOKED', `certificate ${cert.serial} is revoked`);
    if (issuedAt.getTime() > d.clock.now().getTime() + CLOCK_SLACK_MS)
      return reject('ISSUED_IN_FUTURE', `issued at ${p.issuedAt}, ahead of the service's clock`);
    const from = Date.parse(p.validFrom);
    const until = Date.parse(p.validUntil);
    if (!cert.kinds.includes(p.kind)) return reject('OUT_OF_SCOPE', `kind ${p.kind} is not allowed`);
    const outside = cert.rooms === '*' ? [] : p.rooms.filter((r) => !(cert.rooms as string[]).includes(r));
    if (outside.length) return reject('OUT_OF_SCOPE', `room(s) ${outside.join(', ')} are not allowed`);
    if (!(until > from)) return reject('OUT_OF_SCOPE', 'validUntil must be after validFrom');
    if (
      until - from > cert.maxValidityHours * 3_600_000 ||
      until - issuedAt.getTime() > cert.maxValidityHours * 3_600_000
    )
      return reject('OUT_OF_SCOPE', `valid longer than the certificate allows (${cert.maxValidityHours} h)`);
    return null;
  }

  /**
   * The checks against the property that read through the read model (before the deciding transaction, which
   * must not wait on a second connection of the pool): the id is free, the reservation is this property's and
   * not cancelled (a shorter stay shortens the credential), and every room has a desk-encoded lock.
   */
  async function checkProperty(agent: PushingAgent, p: ProvisionalIssuance): Promise<Decision | Planned> {
    const tenantId = agent.tenantId;
    if (await d.readModel.credential(tenantId, p.id))
      return reject('ID_IN_USE', `a credential ${p.id} exists already`);
    // Read here to reject early; read again, locked, in the deciding transaction (`checkStayLocked`).
    const stayed = p.reservationId
      ? checkStay(p, await d.readModel.reservationStay(tenantId, p.reservationId), p.validUntil)
      : { changes: [], validUntil: p.validUntil };
    if ('outcome' in stayed) return stayed;
    const planned = await plan(agent, p.propertyId, p.rooms);
    if (!planned.ok)
      return reject('NOT_A_DESK_ROOM', `room(s) ${planned.notDesk.join(', ')} have no desk-encoded lock`);
    return { ...stayed, targets: planned.targets };
  }

  /**
   * In the deciding transaction: the reservation's stay read again and held (`FOR SHARE`) until the decision
   * commits. A cancellation that committed since the early read is seen here, and one that commits after waits
   * for the decision. A reservation with no row yet (its first event a cancellation, committing meanwhile) is
   * not held: such a card is accepted, and revoked as soon as it links to the ended reservation.
   */
  async function checkStayLocked(
    tx: Tx,
    tenantId: string,
    p: ProvisionalIssuance,
    checked: Planned,
  ): Promise<Decision | Planned> {
    if (!p.reservationId) return checked;
    const stayed = checkStay(p, await reservationStayIn(tx, tenantId, p.reservationId, true), p.validUntil);
    return 'outcome' in stayed ? stayed : { ...stayed, targets: checked.targets };
  }

  /**
   * In the deciding transaction (a property's decisions one at a time): each room is not let to another stay
   * over the window — by a live credential, or by a provisional card accepted and not a credential yet.
   */
  async function checkRelet(tx: Tx, p: ProvisionalIssuance, checked: Planned): Promise<Decision> {
    const changes = [...checked.changes];
    const validUntil = checked.validUntil;
    const overlapping = { rooms: p.rooms, from: new Date(p.validFrom), until: new Date(validUntil) };
    // Accepted cards not credentials yet first, then live credentials: each statement sees its own snapshot,
    // and a card becomes a credential in between (another desk's adoption commits any moment). In this order
    // it is seen by one of the two; the other way round it could fall between them, and two desks' cards for
    // one room were both accepted (once deliveries in process made adoption fast enough to hit the gap).
    const accepted = await tx
      .selectFrom('provisional_issuances')
      .select(['rooms', 'reservation_id', 'holder_ref'])
      .where('property_id', '=', p.propertyId)
      .where('outcome', '!=', 'rejected')
      .where('id', '!=', p.id)
      // Accepted and not a credential yet (once it is, the live credentials above say how it stands).
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('key_credentials as k')
              .select('k.id')
              .whereRef('k.id', '=', 'provisional_issuances.id'),
          ),
        ),
      )
      .where(sql<boolean>`rooms && ${sql.val(overlapping.rooms)}::text[]`)
      .where('valid_from', '<', overlapping.until)
      .where('valid_until', '>', overlapping.from)
      .execute();
    const live = await tx
      .selectFrom('key_credentials')
      .select(['rooms', 'reservation_id', 'holder_ref'])
      .where('property_id', '=', p.propertyId)
      .where('status', 'in', LIVE)
      .where('holder_kind', '=', 'guest')
      .where(sql<boolean>`rooms && ${sql.val(overlapping.rooms)}::text[]`)
      .where('valid_from', '<', overlapping.until)
      .where('valid_until', '>', overlapping.from)
      .execute();
    const relet = new Set(
      [...live, ...accepted]
        .filter((o) =>
          p.reservationId ? o.reservation_id !== p.reservationId : o.holder_ref !== p.holderRef,
        )
        .flatMap((o) => o.rooms)
        .filter((r) => p.rooms.includes(r)),
    );
    const rooms = p.rooms.filter((r) => !relet.has(r));
    if (rooms.length === 0)
      return reject('ROOM_RELET', `room(s) ${[...relet].join(', ')} were let to another stay meanwhile`);
    if (relet.size)
      changes.push({
        field: 'rooms',
        from: p.rooms,
        to: rooms,
        reason: `room(s) ${[...relet].join(', ')} let to another stay meanwhile`,
      });
    return {
      outcome: changes.length ? 'accepted_with_changes' : 'accepted',
      reason: null,
      changes,
      rooms,
      validUntil,
    };
  }

  /** The rooms' desk-encoded locks (every room must have one: the card was written at the desk). */
  async function plan(agent: PushingAgent, propertyId: string, rooms: string[]) {
    const { plan } = await planRooms(d.issuance, agent.tenantId, propertyId, rooms, 'card', {
      hasHolderDetail: true,
      provisionalVendors: [DESK_VENDOR],
    });
    const notDesk = [
      ...plan.unresolved.map((u) => u.roomId),
      ...plan.targets.filter((t) => t.vendor !== DESK_VENDOR).map((t) => t.roomId),
    ];
    return notDesk.length ? { ok: false as const, notDesk } : { ok: true as const, targets: plan.targets };
  }

  const DECIDED = [
    'agent_id',
    'digest',
    'outcome',
    'reason',
    'changes',
    'rooms',
    'valid_until',
    'uid',
  ] as const;
  const recorded = (agent: PushingAgent, id: string) =>
    withTenant(d.db, agent.tenantId, (tx) =>
      tx.selectFrom('provisional_issuances').select(DECIDED).where('id', '=', id).executeTakeFirst(),
    );

  /**
   * Decides a record not decided before and records the decision, one decision of a property at a time (a
   * transaction-scoped advisory lock): two desks pushing cards for one room at once are told apart. The
   * decision recorded, or the one another push recorded first.
   */
  async function decide(agent: PushingAgent, item: PushItem, digest: string) {
    const p = item.issuance;
    const property = await checkProperty(agent, p);
    /** The property's checks, the stay's again (held), and the rooms' lets: in the deciding transaction. */
    const checkHeld = async (tx: Tx): Promise<Decision> => {
      if ('outcome' in property) return property;
      const stayed = await checkStayLocked(tx, agent.tenantId, p, property);
      return 'outcome' in stayed ? stayed : checkRelet(tx, p, stayed);
    };
    return withTenant(d.db, agent.tenantId, async (tx) => {
      // Bounded: a push never waits for ever behind another (it fails, and the desk pushes again).
      await sql`set local lock_timeout = '10s'`.execute(tx);
      await sql`select pg_advisory_xact_lock(hashtextextended(${`provisional:${agent.tenantId}:${p.propertyId}`}, 0))`.execute(
        tx,
      );
      const first = await tx
        .selectFrom('provisional_issuances')
        .select(DECIDED)
        .where('id', '=', p.id)
        .executeTakeFirst();
      if (first) return { row: first };
      const dec = (await checkStanding(tx, agent, item)) ?? (await checkHeld(tx));
      const row = await tx
        .insertInto('provisional_issuances')
        .values({
          tenant_id: agent.tenantId,
          id: p.id,
          property_id: p.propertyId,
          agent_id: agent.agentId,
          certificate_serial: p.certificateSerial,
          digest,
          rooms: dec.rooms ?? p.rooms,
          valid_from: p.validFrom,
          valid_until: dec.validUntil ?? p.validUntil,
          reservation_id: p.reservationId,
          holder_ref: p.holderRef,
          uid: item.uid,
          card_number_sealed: d.secrets.seal(p.cardNumber),
          outcome: dec.outcome,
          reason: dec.reason,
          changes: JSON.stringify(dec.changes),
          issued_at: p.issuedAt,
        })
        .returning(DECIDED)
        .executeTakeFirstOrThrow();
      // Decided here: the rooms' locks just planned go with it (the issue needs not plan them again).
      return { row, ...('targets' in property ? { targets: property.targets } : {}) };
    });
  }

  type Decided = NonNullable<Awaited<ReturnType<typeof recorded>>>;

  /** One item's answer, and (accepted ones) the credential's status as it settles. */
  async function one(
    agent: PushingAgent,
    raw: unknown,
  ): Promise<{ result: PushResult; settling?: Promise<string> }> {
    if (!checkPushItem.Check(raw)) {
      const id = (raw as { issuance?: { id?: unknown } } | null)?.issuance?.id;
      const why = [...checkPushItem.Errors(raw)][0];
      return {
        result: {
          id: typeof id === 'string' ? id.slice(0, 64) : null,
          outcome: 'rejected',
          reason: `MALFORMED: ${why?.instancePath ?? ''} ${why?.message ?? 'not a push item'}`.trim(),
        },
      };
    }
    const item = raw as PushItem;
    const p = item.issuance;
    const digest = provisionalDigest(p);
    const conflict = {
      result: {
        id: p.id,
        outcome: 'rejected' as const,
        reason: 'REPLAY_CONFLICT: another record was pushed under this id',
      },
    };
    // Decided before: the same answer (the record is the one decided on: its digest), whatever has changed
    // since — a rotated service key, a certificate expired since.
    let row: Decided | undefined = await recorded(agent, p.id);
    let fresh: GrantTarget[] | undefined;
    if (row && (row.agent_id !== agent.agentId || row.digest !== digest)) return conflict;
    if (!row) {
      const chain = await checkChain(agent, item);
      // A record whose chain does not check is answered, never recorded: its id may be another's.
      if (chain) {
        // Not recorded, so said here: a card may have been written (its UID and rooms; never its number).
        d.log?.('a provisional card was refused: its chain does not check', {
          agentId: agent.agentId,
          id: p.id,
          uid: item.uid,
          rooms: p.rooms,
          reason: chain.reason,
        });
        return { result: { id: p.id, outcome: 'rejected', reason: chain.reason ?? 'rejected' } };
      }
      const decided = await decide(agent, item, digest);
      row = decided.row;
      fresh = decided.targets;
      if (row.agent_id !== agent.agentId || row.digest !== digest) return conflict;
      if (row.outcome === 'rejected')
        d.log?.(
          'a card written offline was rejected: take it back, or remove its number from the door controller',
          {
            agentId: agent.agentId,
            id: p.id,
            uid: row.uid,
            reason: row.reason,
          },
        );
    }
    const result: PushResult = {
      id: p.id,
      outcome: row.outcome,
      ...(row.reason ? { reason: row.reason } : {}),
      ...(row.changes.length ? { changes: row.changes } : {}),
    };
    if (row.outcome === 'rejected') return { result };
    return { result, settling: issue(agent, item, row, fresh) };
  }

  /**
   * Sends the accepted credential's issue, with its rooms and window as decided — again on every push of it
   * until the credential exists (the decision may have been recorded just before a crash).
   */
  async function issue(
    agent: PushingAgent,
    item: PushItem,
    row: Decided,
    fresh?: GrantTarget[],
  ): Promise<string> {
    const p = item.issuance;
    let targets: GrantTarget[];
    if (fresh) {
      // Just decided: no credential of this id can exist (the decision checked), and its locks are planned.
      targets = fresh.filter((t) => row.rooms.includes(t.roomId));
    } else {
      const now = await d.readModel.credential(agent.tenantId, p.id);
      if (now && now.status !== 'requested') return now.status;
      const planned = await plan(agent, p.propertyId, row.rooms);
      // The rooms' locks went away since the decision: the desk is asked to push it again later.
      if (!planned.ok) return 'requested';
      targets = planned.targets;
    }
    const event: IssueCredentialEvent = {
      type: 'credential.issue',
      at: d.clock.now().toISOString(),
      propertyId: p.propertyId,
      reservationId: p.reservationId,
      holder: { kind: 'guest', ref: p.holderRef },
      kind: 'card',
      rooms: row.rooms,
      areas: [],
      validFrom: p.validFrom,
      validUntil: new Date(row.valid_until).toISOString(),
      secret: d.secrets.seal(p.cardNumber),
      targets,
      unresolved: [],
      ...(p.reservationId ? { linkTo: reservationActorId(agent.tenantId, p.reservationId) } : {}),
      issuedBy: `agent:${agent.agentId}`,
      adopted: { vendorRef: `card-${row.uid ?? 'unconfirmed'}` },
    };
    const n = await d.mailbox.sendAndWait(
      { type: 'credential', id: p.id },
      { tenantId: agent.tenantId, event, by: `agent:${agent.agentId}` },
      `${p.id}:issue`,
      (x) => x.status !== 'requested' && x.status !== 'issuing',
      d.waitMs ?? 5_000,
    );
    return n?.status ?? 'issuing';
  }

  return {
    async push(agent, items) {
      // Decided one at a time (two records of one push may compete for a room); the accepted ones' credentials
      // are then waited for together, so a full push answers within one wait.
      const decided = [];
      for (const item of items) decided.push(await one(agent, item));
      return Promise.all(
        decided.map(async ({ result, settling }) => {
          if (!settling) return result;
          const status = await settling;
          // Not sent (its rooms' locks went away): not final, the desk pushes it again.
          return { ...result, status, ...(status === 'requested' ? { retry: true } : {}) };
        }),
      );
    },
    async list(tenantId, propertyId, outcome) {
      const rows = await withTenant(d.db, tenantId, (tx) => {
        let q = tx
          .selectFrom('provisional_issuances')
          .select([
            'id',
            'agent_id',
            'rooms',
            'valid_from',
            'valid_until',
            'reservation_id',
            'uid',
            'outcome',
            'reason',
            'issued_at',
            'received_at',
          ])
          .where('property_id', '=', propertyId);
        if (outcome) q = q.where('outcome', '=', outcome);
        return q.orderBy('received_at', 'desc').limit(500).execute();
      });
      return rows.map((r) => ({
        id: r.id,
        agentId: r.agent_id,
        rooms: r.rooms,
        validFrom: new Date(r.valid_from).toISOString(),
        validUntil: new Date(r.valid_until).toISOString(),
        reservationId: r.reservation_id,
        uid: r.uid,
        outcome: r.outcome,
        reason: r.reason,
        issuedAt: new Date(r.issued_at).toISOString(),
        receivedAt: r.received_at.toISOString(),
      }));
    },
  };
}
