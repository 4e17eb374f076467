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
import { type Db, withTenant } from '../io/db/index.ts';
import type { ProvisionalChange } from '../io/db/schema.ts';
import { type IssuanceDeps, planRooms } from '../issuance/credentialRequests.ts';
import type { IssueCredentialEvent } from '../machines/index.ts';
import type { ReadModel } from '../readModel/index.ts';
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
  /** How long a push waits for each accepted credential to settle before answering its status as it is. */
  waitMs?: number;
}

/** How far a desk's clock may run ahead of the service's. */
const CLOCK_SLACK_MS = 5 * 60_000;
const DESK_VENDOR = 'generic-wiegand';
const LIVE = ['requested', 'issuing', 'active', 'updating'];

type Decision = { outcome: PushResult['outcome']; reason: string | null; changes: ProvisionalChange[] };
const reject = (why: ProvisionalRejection, detail: string): Decision => ({
  outcome: 'rejected',
  reason: `${why}: ${detail}`,
  changes: [],
});

export interface Reconciler {
  push(agent: PushingAgent, items: unknown[]): Promise<PushResult[]>;
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

  /** Whether the agent and its certificate still stand, and the record is within the certificate's scope. */
  async function checkStanding(agent: PushingAgent, item: PushItem): Promise<Decision | null> {
    const p = item.issuance;
    const cert = item.certificate as unknown as OfflineCertificate;
    const issuedAt = new Date(p.issuedAt);
    const listed = await d.certificates.status(agent.tenantId, cert.serial);
    if (!listed) return reject('CERTIFICATE_UNKNOWN', `certificate ${cert.serial} was never issued here`);
    if (agent.status !== 'active') return reject('AGENT_REVOKED', `agent ${agent.agentId} is revoked`);
    if (listed.crlReason === 'revoked')
      return reject('CERTIFICATE_REVOKED', `certificate ${cert.serial} is revoked`);
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

  /** The checks against the property as it is now. */
  async function checkProperty(agent: PushingAgent, p: ProvisionalIssuance): Promise<Decision> {
    const tenantId = agent.tenantId;
    if (await d.readModel.credential(tenantId, p.id))
      return reject('ID_IN_USE', `a credential ${p.id} exists already`);
    const changes: ProvisionalChange[] = [];
    let validUntil = p.validUntil;
    if (p.reservationId) {
      const stay = await d.readModel.reservationStay(tenantId, p.reservationId);
      if (stay?.endReason === 'cancelled')
        return reject('RESERVATION_CANCELLED', `reservation ${p.reservationId} was cancelled`);
      if (stay?.checkOut && Date.parse(stay.checkOut) < Date.parse(validUntil)) {
        changes.push({
          field: 'validUntil',
          from: validUntil,
          to: stay.checkOut,
          reason: 'the stay ends earlier',
        });
        validUntil = stay.checkOut;
      }
    }
    // Let to someone else meanwhile: a live credential of another stay (or guest) on the room, overlapping.
    const others = await withTenant(d.db, tenantId, (tx) =>
      tx
        .selectFrom('key_credentials')
        .select(['rooms', 'reservation_id', 'holder_ref'])
        .where('property_id', '=', p.propertyId)
        .where('status', 'in', LIVE)
        .where('holder_kind', '=', 'guest')
        .where(sql<boolean>`rooms && ${sql.val(p.rooms)}::text[]`)
        .where('valid_from', '<', new Date(validUntil))
        .where('valid_until', '>', new Date(p.validFrom))
        .execute(),
    );
    const relet = new Set(
      others
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
    const planned = await plan(agent, p.propertyId, rooms);
    if (!planned.ok)
      return reject('NOT_A_DESK_ROOM', `room(s) ${planned.notDesk.join(', ')} have no desk-encoded lock`);
    return { outcome: changes.length ? 'accepted_with_changes' : 'accepted', reason: null, changes };
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

  /** Records a decision unless one is recorded already; the one that holds. */
  async function record(agent: PushingAgent, p: ProvisionalIssuance, digest: string, dec: Decision) {
    return withTenant(d.db, agent.tenantId, async (tx) => {
      await tx
        .insertInto('provisional_issuances')
        .values({
          tenant_id: agent.tenantId,
          id: p.id,
          property_id: p.propertyId,
          agent_id: agent.agentId,
          certificate_serial: p.certificateSerial,
          digest,
          outcome: dec.outcome,
          reason: dec.reason,
          changes: JSON.stringify(dec.changes),
          issued_at: p.issuedAt,
        })
        .onConflict((oc) => oc.columns(['tenant_id', 'id']).doNothing())
        .execute();
      return tx
        .selectFrom('provisional_issuances')
        .select(['agent_id', 'digest', 'outcome', 'reason', 'changes'])
        .where('id', '=', p.id)
        .executeTakeFirstOrThrow();
    });
  }

  const recorded = (agent: PushingAgent, id: string) =>
    withTenant(d.db, agent.tenantId, (tx) =>
      tx
        .selectFrom('provisional_issuances')
        .select(['agent_id', 'digest', 'outcome', 'reason', 'changes'])
        .where('id', '=', id)
        .executeTakeFirst(),
    );

  async function one(agent: PushingAgent, raw: unknown): Promise<PushResult> {
    if (!checkPushItem.Check(raw)) {
      const id = (raw as { issuance?: { id?: unknown } } | null)?.issuance?.id;
      const why = [...checkPushItem.Errors(raw)][0];
      return {
        id: typeof id === 'string' ? id.slice(0, 64) : null,
        outcome: 'rejected',
        reason: `MALFORMED: ${why?.instancePath ?? ''} ${why?.message ?? 'not a push item'}`.trim(),
      };
    }
    const item = raw as PushItem;
    const p = item.issuance;
    const digest = provisionalDigest(p);
    const chain = await checkChain(agent, item);
    // A record whose chain does not check is answered, never recorded: its id may be another's.
    if (chain) return { id: p.id, outcome: 'rejected', reason: chain.reason ?? undefined };
    const conflict = {
      id: p.id,
      outcome: 'rejected' as const,
      reason: 'REPLAY_CONFLICT: another record was pushed under this id',
    };
    // Decided before: the decision stands (a push sent again, or replayed, gets the same answer).
    let row = await recorded(agent, p.id);
    if (row && (row.agent_id !== agent.agentId || row.digest !== digest)) return conflict;
    if (!row) {
      const decision = (await checkStanding(agent, item)) ?? (await checkProperty(agent, p));
      row = await record(agent, p, digest, decision);
      // A concurrent push of the same id decided first: its decision holds, if it is this record.
      if (row.digest !== digest || row.agent_id !== agent.agentId) return conflict;
    }
    const result: PushResult = {
      id: p.id,
      outcome: row.outcome,
      ...(row.reason ? { reason: row.reason } : {}),
      ...(row.changes.length ? { changes: row.changes } : {}),
    };
    if (row.outcome === 'rejected') return result;
    return { ...result, status: await issue(agent, item, row.changes) };
  }

  /**
   * Sends the accepted credential's issue, with its rooms and window as decided — again on every push of it
   * until the credential exists (the decision may have been recorded just before a crash).
   */
  async function issue(agent: PushingAgent, item: PushItem, changes: ProvisionalChange[]): Promise<string> {
    const p = item.issuance;
    const now = await d.readModel.credential(agent.tenantId, p.id);
    if (now && now.status !== 'requested') return now.status;
    const rooms = (changes.find((c) => c.field === 'rooms')?.to as string[] | undefined) ?? p.rooms;
    const validUntil =
      (changes.find((c) => c.field === 'validUntil')?.to as string | undefined) ?? p.validUntil;
    const planned = await plan(agent, p.propertyId, rooms);
    // The rooms' locks went away since the decision: the credential waits for the next push.
    if (!planned.ok) return 'requested';
    const event: IssueCredentialEvent = {
      type: 'credential.issue',
      at: d.clock.now().toISOString(),
      propertyId: p.propertyId,
      reservationId: p.reservationId,
      holder: { kind: 'guest', ref: p.holderRef },
      kind: 'card',
      rooms,
      areas: [],
      validFrom: p.validFrom,
      validUntil,
      secret: d.secrets.seal(p.cardNumber),
      targets: planned.targets,
      unresolved: [],
      ...(p.reservationId ? { linkTo: reservationActorId(agent.tenantId, p.reservationId) } : {}),
      issuedBy: `agent:${agent.agentId}`,
      adopted: { vendorRef: `card-${item.uid ?? 'unconfirmed'}` },
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
      const out: PushResult[] = [];
      // One at a time: two records of one push may compete for a room.
      for (const item of items) out.push(await one(agent, item));
      return out;
    },
  };
}
