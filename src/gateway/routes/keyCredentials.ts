/** /api/v1/key-credentials: issue (Idempotency-Key required), read, wait, list, revoke. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { type ErrorCode, LockError } from '../../errors.ts';
import { randomUUID } from 'node:crypto';
import { idempotentCredentialId, reservationActorId, staffActorId } from '../../ids.ts';
import {
  type CredentialRequest,
  type IssuanceDeps,
  newPins,
  planIssue,
  planIssueIn,
  type PreparedIssue,
  prepareIssue,
} from '../../issuance/credentialRequests.ts';
import type { MessageIntent } from '../../machines/index.ts';
import { traceparentOf } from '../../observability/tracing.ts';
import type { JournaledHandOver, StateNotification } from '../../actors/index.ts';
import type { UnresolvedRoom } from '../../readModel/planTargets.ts';
import { type CredentialView, credentialViewOf, issueContextOf } from '../../readModel/readModel.ts';
import { withTenant } from '../../io/db/index.ts';
import { pinEntry } from '../../io/vendors/registry.ts';
import { type SecretBox, sealingOnce } from '../../io/crypto/secretBox.ts';
import {
  requestHash,
  type StoredResponse,
  logStoreFailure,
  sendStored,
  withIdempotency,
} from '../idempotency.ts';
import { principalRef } from '../auth.ts';
import type { GatewayPorts } from '../ports.ts';
import {
  CreateKeyCredential,
  IdParams,
  KeyCredential,
  ListQuery,
  pageOf,
  RevokeBody,
  UpdateKeyCredential,
  problemResponses,
} from '../schemas.ts';

const SETTLED = new Set(['active', 'failed', 'revoked', 'expired']);
const CLOSED = new Set(['revoked', 'failed', 'expired']);
const problems = problemResponses(400, 401, 403, 404);

export function keyCredentialRoutes(p: GatewayPorts): FastifyPluginAsyncTypebox {
  // A stored answer keeps its PINs sealed: the credential's PIN, any vendor-chosen door PINs, and (in a
  // 202) the prepared PINs a later replay needs to say which one the locks ended up with.
  const mapPins = (r: StoredResponse, f: (pin: string) => string): StoredResponse => {
    const doorPins = r.body.doorPins as DoorPin[] | undefined;
    const prepared = r.body.preparedPins as string[] | undefined;
    return {
      ...r,
      body: {
        ...r.body,
        ...(typeof r.body.pin === 'string' ? { pin: f(r.body.pin) } : {}),
        ...(doorPins ? { doorPins: doorPins.map((d) => ({ ...d, pin: f(d.pin) })) } : {}),
        ...(prepared ? { preparedPins: prepared.map(f) } : {}),
      },
    };
  };
  /**
   * A replay of a 202 (the issue outlasted the wait) answers from the credential as it is now: once it
   * has settled, with the PINs the locks hold (a vendor's own, or a spare after a PIN conflict).
   */
  const refreshPending =
    (tenantId: string) =>
    async (stored: StoredResponse): Promise<StoredResponse | null> => {
      if (stored.status !== 202 || typeof stored.body.id !== 'string') return null;
      const view = await p.readModel.credential(tenantId, stored.body.id);
      if (!view || !SETTLED.has(view.status)) return null;
      const prepared = (stored.body.preparedPins as string[] | undefined) ?? [];
      return {
        status: 201,
        body: { ...view, ...issuedPins(prepared, view, (x) => p.secrets.open(x)) },
      };
    };
  const sealPins = (box: SecretBox) => ({
    seal: (r: StoredResponse) => mapPins(r, (x) => box.seal(x)),
    open: (r: StoredResponse) => mapPins(r, (x) => box.open(x)),
  });

  /** Waits up to `ms` for a credential to settle: its settling notification, or null (watched before it reads). */
  const settledWithin = async (id: string, ms: number): Promise<StateNotification | null> => {
    const w = p.mailbox.watch({ type: 'credential', id }, (x) => SETTLED.has(x.status));
    try {
      return await w.wait(ms);
    } finally {
      w.release();
    }
  };

  /**
   * A credential whose REST issue is journaled and not applied yet (its turn is calling the vendor, or its
   * process died and a sweeper will send it again): it has no row, but its caller may have its id from a 202.
   * It is shown as requested, and a revoke is sent to it all the same.
   */
  const pendingIssue = async (tenantId: string, id: string): Promise<CredentialView | null> => {
    const row = await withTenant(p.runtimeDb, tenantId, (tx) =>
      tx
        .selectFrom('effect_intents')
        .select('intent')
        .where('id', '=', issueJournalId(id))
        .executeTakeFirst(),
    );
    const event = (row?.intent as MessageIntent | undefined)?.event as PendingIssue | undefined;
    return event ? pendingView(id, event) : null;
  };

  /**
   * A REST issue planned from a context kept from an earlier claim (`issueContextCache.ts`), with the message
   * its claim's statement journals if that context is still the property's. None when no context is kept, the
   * plan leaves a room unserved, or the holder is staff (their deactivation is read first, the other way).
   */
  const journalable = async (
    issuance: IssuanceDeps,
    id: string,
    pins: string[],
    request: CredentialRequest,
    linked: Record<string, string>,
    by: string,
  ) => {
    if (request.holder.kind === 'staff') return null;
    const kept = p.issueContexts.get(request.tenantId, request.propertyId, request.rooms);
    if (!kept?.ctx.property) return null;
    let prepared: PreparedIssue;
    try {
      const planned = planIssueIn(issuance, request, kept.ctx);
      prepared = await prepareIssue(issuance, request, p.clock.now().toISOString(), pins, planned);
    } catch {
      return null;
    }
    if (prepared.event.unresolved.length > 0) return null;
    const msgId = `${id}:issue`;
    const to = { type: 'credential' as const, id };
    const intent: MessageIntent = {
      intent: 'sendMessage',
      operationId: msgId,
      to,
      event: { ...prepared.event, ...linked },
      by,
      newActor: true,
    };
    const trace = traceparentOf();
    const entry = issueJournalId(id);
    const message: JournaledHandOver = {
      id: entry,
      tenantId: request.tenantId,
      to,
      intent,
      ...(trace ? { trace } : {}),
    };
    const journal = {
      id: entry,
      type: to.type,
      actor: to.id,
      intent,
      claimMs: p.journalClaimMs,
      ctxHash: kept.hash,
      ...(trace ? { trace } : {}),
    };
    return { prepared, message, journal };
  };

  return async (app) => {
    app.post(
      '/key-credentials',
      {
        config: { scope: 'lock:issue' },
        schema: {
          tags: ['key credentials'],
          body: CreateKeyCredential,
          headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 200 })) }),
          response: { 201: KeyCredential, 202: KeyCredential, ...problemResponses(422), ...problems },
        },
      },
      async (req, reply) => {
        const { tenantId } = req.principal;
        const key = req.headers['idempotency-key'];
        if (!key) throw new LockError('LOCK.IDEMPOTENCY_KEY_REQUIRED');
        const b = req.body;
        if (Date.parse(b.validUntil) <= Date.parse(b.validFrom)) {
          throw new LockError('LOCK.VALIDATION', 'validUntil must be after validFrom');
        }
        if (b.cardNumber !== undefined && b.kind !== 'card')
          throw new LockError('LOCK.VALIDATION', 'cardNumber is only for kind card');
        if (b.recipient !== undefined && b.kind !== 'mobile_key')
          throw new LockError('LOCK.VALIDATION', 'recipient is only for kind mobile_key');
        const request = {
          tenantId,
          propertyId: b.propertyId,
          reservationId: b.reservationId ?? null,
          holder: b.holder,
          kind: b.kind,
          rooms: b.rooms,
          areas: b.areas ?? [],
          validFrom: b.validFrom,
          validUntil: b.validUntil,
          ...(b.cardNumber ? { cardNumber: b.cardNumber } : {}),
          ...(b.recipient ? { recipient: b.recipient } : {}),
          ...(b.provisionalVendors ? { provisionalVendors: b.provisionalVendors } : {}),
        };
        const by = principalRef(req.principal);
        // A caller's credential for a reservation joins it: the reservation's dates and end reach it; one for a
        // member of staff joins their actor, so their deactivation reaches it.
        const linked = {
          // Who may read a PIN a vendor chooses anew later (a room moved to another vendor's lock).
          issuedBy: by,
          ...(b.reservationId ? { linkTo: reservationActorId(tenantId, b.reservationId) } : {}),
          ...(b.holder.kind === 'staff' ? { linkToStaff: staffActorId(tenantId, b.holder.ref) } : {}),
        };
        // The credential's id follows from the key; its PINs are chosen before anything is sent and kept with the
        // claim, with the journal entry this attempt offers its claim: a retry sends the same PINs to the same
        // credential, or, while that entry is pending, waits for it.
        const id = idempotentCredentialId(tenantId, key);
        const pins = newPins(p.issuance, b.kind);
        // The PINs are sealed once, for the claim, the issue event and the stored answer alike.
        const secrets = sealingOnce(p.secrets);
        const issuance = { ...p.issuance, secrets };
        const fast = await journalable(issuance, id, pins, request, linked, by);
        const mine: PreparedKey = { pins, ...(fast ? { journal: fast.message.id } : {}) };
        const waitSettled = (x: StateNotification) => SETTLED.has(x.status);
        /** The answer once the issue was sent: 201 if it settled within the wait, else 202 (a replay settles it). */
        const answer = async (
          n: StateNotification | null,
          prepared: { pins: string[]; event: PendingIssue },
        ): Promise<StoredResponse> => {
          // Settled in this process: the row its commit wrote is the credential as a read would find it.
          const view = (n ? settledView(n, tenantId) : null) ?? (await p.readModel.credential(tenantId, id));
          const body = {
            ...(view ?? pendingView(id, prepared.event)),
            ...issuedPins(prepared.pins, view, (x) => p.secrets.open(x)),
          };
          return view && SETTLED.has(view.status)
            ? { status: 201, body }
            : {
                status: 202,
                // Not in the REST schema (not sent): kept, sealed, for a replay once the issue settles.
                body: { ...body, preparedPins: prepared.pins },
                headers: { location: `/api/v1/key-credentials/${id}` },
              };
        };
        const r = await withIdempotency<PreparedKey>(
          p.runtimeDb,
          tenantId,
          'POST /key-credentials',
          key,
          // The stored request hash must not let a card number be guessed: it covers a keyed digest of it.
          {
            ...b,
            ...(b.cardNumber ? { cardNumber: p.secrets.digest(b.cardNumber) } : {}),
            ...(b.recipient ? { recipient: p.secrets.digest(b.recipient) } : {}),
          },
          async (prepared, retry, claim) => {
            const pins = prepared?.pins ?? mine.pins;
            if (fast && claim?.journaled) {
              // Journaled by the claim's own statement: the effect runner sends it and holds its claim, so the
              // new credential's vendor calls may run in its turn (one commit for the issue and its answers).
              p.metrics.restIssues.inc({ way: 'journaled_by_claim' });
              const n = await p.sendJournaled(fast.message, waitSettled, p.waitBudgetMs);
              return answer(n, fast.prepared);
            }
            if (retry && claim?.journal_pending) {
              // The first attempt's issue, journaled by its claim, is not applied yet (its process died, or
              // stalls past its claim): it is waited for, never planned and sent again. Its plan names the locks
              // its turn may have called; a sweeper sends it again, saying so.
              const event = { ...request, at: p.clock.now().toISOString() };
              return answer(await settledWithin(id, p.waitBudgetMs), { pins, event });
            }
            // A retry whose first attempt's issue already settled answers from the credential as it is.
            const earlier = retry ? await p.readModel.credential(tenantId, id) : null;
            if (earlier && SETTLED.has(earlier.status) && prepared)
              return {
                status: 201,
                body: {
                  ...earlier,
                  ...issuedPins(pins, earlier, (x) => p.secrets.open(x)),
                },
              };
            // Planned from the context the claim read (kept for the next request), or read now.
            const ctx = claim?.ctx ? issueContextOf(claim.ctx) : null;
            if (ctx?.property && claim?.ctx_hash)
              p.issueContexts.put(tenantId, b.propertyId, b.rooms, { ctx, hash: claim.ctx_hash });
            const issue = await prepareIssue(
              issuance,
              request,
              p.clock.now().toISOString(),
              pins,
              ctx
                ? Promise.resolve().then(() => planIssueIn(issuance, request, ctx))
                : planIssue(issuance, request),
            );
            const missing = issue.event.unresolved[0];
            if (missing) {
              // The issue event carries the planner's codes as plain strings.
              const explain =
                UNRESOLVED[missing.code as UnresolvedRoom['code']] ?? UNRESOLVED.KIND_NOT_SUPPORTED;
              const [code, detail] = explain(missing.roomId);
              throw new LockError(code, detail);
            }
            // A deactivated account gets nothing new (its staff actor would revoke it at once anyway).
            if (b.holder.kind === 'staff' && (await p.readModel.staffDeactivated(tenantId, b.holder.ref)))
              throw new LockError(
                'LOCK.HOLDER_DEACTIVATED',
                `staff ${b.holder.ref} is deactivated; no new credential is issued to them`,
              );
            // Retryable: a retry under the key sends this same issue to this same credential. A retry's first
            // attempt may have called a vendor in the credential's turn and died before its commit: it says
            // `again`, so its calls look up what that attempt made before they make anything.
            p.metrics.restIssues.inc({ way: 'planned_after_claim' });
            const sendIssue =
              p.mailbox.sendAndWaitRetryable?.bind(p.mailbox) ?? p.mailbox.sendAndWait.bind(p.mailbox);
            const n = await sendIssue(
              { type: 'credential', id },
              {
                tenantId,
                event: { ...issue.event, ...linked },
                by,
                ...(retry ? { again: true as const } : {}),
              },
              `${id}:issue`,
              waitSettled,
              p.waitBudgetMs,
            );
            return answer(n, issue);
          },
          {
            seal: sealPins(secrets),
            onStoreFailed: logStoreFailure(req.log),
            refresh: refreshPending(tenantId),
            claimMs: p.idempotencyClaimMs,
            prepare: {
              make: () => mine,
              seal: (x) => ({
                pins: x.pins.map((pin) => secrets.seal(pin)),
                ...(x.journal ? { journal: x.journal } : {}),
              }),
              open: (stored) => ({
                pins: ((stored.pins as string[] | undefined) ?? []).map((x) => p.secrets.open(x)),
                ...(typeof stored.journal === 'string' ? { journal: stored.journal } : {}),
              }),
            },
            // The claim's statement reads the issue's context (for this request, and kept for the next) and,
            // when this request could plan from a context kept from an earlier one, journals its issue.
            alongside: {
              context: { property: b.propertyId, rooms: b.rooms },
              ...(fast ? { journal: fast.journal } : {}),
            },
          },
        );
        return sendStored(reply, r);
      },
    );

    app.get(
      '/key-credentials/:id',
      {
        config: { scope: 'lock:read' },
        schema: {
          tags: ['key credentials'],
          params: IdParams,
          querystring: Type.Object({
            waitFor: Type.Optional(Type.Literal('settled')),
            timeoutMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 30_000, default: 1000 })),
          }),
          response: { 200: KeyCredential, ...problems },
        },
      },
      async (req) => {
        const { tenantId } = req.principal;
        const id = req.params.id;
        // Watch before reading: a commit between the read and the wait is not missed.
        const w =
          req.query.waitFor === 'settled'
            ? p.mailbox.watch({ type: 'credential', id }, (n) => SETTLED.has(n.status))
            : null;
        try {
          const view = (await p.readModel.credential(tenantId, id)) ?? (await pendingIssue(tenantId, id));
          if (!view) throw new LockError('LOCK.NOT_FOUND', `key credential ${id}`);
          if (!w || SETTLED.has(view.status)) return view;
          // The notification is a hint (and carries no tenant check); the row is the truth.
          const n = await w.wait(req.query.timeoutMs ?? 1000);
          return (n && (await p.readModel.credential(tenantId, id))) || view;
        } finally {
          w?.release();
        }
      },
    );

    app.get(
      '/key-credentials',
      {
        config: { scope: 'lock:read' },
        schema: {
          tags: ['key credentials'],
          querystring: Type.Object({
            propertyId: Type.Optional(Type.String({ maxLength: 128 })),
            reservationId: Type.Optional(Type.String({ maxLength: 128 })),
            status: Type.Optional(Type.String({ maxLength: 32 })),
            ...ListQuery,
          }),
          response: { 200: pageOf(KeyCredential), ...problems },
        },
      },
      async (req) =>
        p.readModel.credentials(req.principal.tenantId, { ...req.query, limit: req.query.limit ?? 100 }),
    );

    app.patch(
      '/key-credentials/:id',
      {
        config: { scope: 'lock:issue' },
        schema: {
          tags: ['key credentials'],
          params: IdParams,
          body: UpdateKeyCredential,
          response: { 200: KeyCredential, 202: KeyCredential, ...problemResponses(409), ...problems },
        },
      },
      async (req, reply) => {
        const { tenantId } = req.principal;
        const view =
          (await p.readModel.credential(tenantId, req.params.id)) ??
          (await pendingIssue(tenantId, req.params.id));
        if (!view) throw new LockError('LOCK.NOT_FOUND', `key credential ${req.params.id}`);
        if (view.status !== 'active' && view.status !== 'updating')
          throw new LockError('LOCK.INVALID_STATE', `a ${view.status} credential cannot change its validity`);
        const window = {
          validFrom: req.body.validFrom ?? view.validFrom,
          validUntil: req.body.validUntil ?? view.validUntil,
        };
        if (Date.parse(window.validUntil) <= Date.parse(window.validFrom))
          throw new LockError('LOCK.VALIDATION', 'validUntil must be after validFrom');
        if (window.validFrom === view.validFrom && window.validUntil === view.validUntil) return view;
        // The same window asked twice is one message (and the machine ignores a window it already has).
        // One message per request: a window asked again later (A → B → A) is a new update, not a duplicate.
        const requestId = (req.headers['idempotency-key'] as string | undefined) ?? randomUUID();
        // Only what the caller changes: the rest stays as the credential has it then, not as read here.
        const changes = {
          ...(req.body.validFrom !== undefined ? { validFrom: req.body.validFrom } : {}),
          ...(req.body.validUntil !== undefined ? { validUntil: req.body.validUntil } : {}),
        };
        const n = await p.mailbox.sendAndWait(
          { type: 'credential', id: view.id },
          {
            tenantId,
            by: principalRef(req.principal),
            // Never before what the caller saw: a window is ordered by its `at` (the credential ignores an
            // older one), and this process's clock may run behind the one that applied the last.
            event: {
              type: 'credential.update',
              at: notBefore(p.clock.now(), view.updatedAt),
              ...changes,
            } as {
              type: string;
              at: string;
            },
          },
          // The body is in the id too: a key reused with another window is another message, not a repeat.
          `${view.id}:update:${requestId}:${requestHash(changes).slice(0, 16)}`,
          (x) => x.version > view.version && SETTLED.has(x.status),
          p.waitBudgetMs,
        );
        const after = (await p.readModel.credential(tenantId, view.id)) ?? view;
        if (n) return after;
        return reply.code(202).header('location', `/api/v1/key-credentials/${view.id}`).send(after);
      },
    );

    app.post(
      '/key-credentials/:id/revoke',
      {
        config: { scope: 'lock:issue' },
        schema: {
          tags: ['key credentials'],
          params: IdParams,
          body: RevokeBody,
          response: { 200: KeyCredential, 202: KeyCredential, ...problems },
        },
      },
      async (req, reply) => {
        const { tenantId } = req.principal;
        const r = await withIdempotency(
          p.runtimeDb,
          tenantId,
          `POST /key-credentials/${req.params.id}/revoke`,
          req.headers['idempotency-key'] as string | undefined,
          req.body,
          async () => {
            const recorded = await p.readModel.credential(tenantId, req.params.id);
            // Not recorded yet, its issue journaled: revoked all the same (the credential applies the revoke
            // after its issue, or, if its issue's turn was lost, the resent issue then sweeps what it made).
            const view = recorded ?? (await pendingIssue(tenantId, req.params.id));
            if (!view) throw new LockError('LOCK.NOT_FOUND', `key credential ${req.params.id}`);
            // Closed already (a retry whose first answer was lost, or a second revoke): nothing to send, and
            // nothing would answer a message the credential ignores.
            if (CLOSED.has(view.status))
              return { status: 200, body: view as unknown as Record<string, unknown> };
            const at = p.clock.now().toISOString();
            const n = await p.mailbox.sendAndWait(
              { type: 'credential', id: view.id },
              {
                tenantId,
                by: principalRef(req.principal),
                event: { type: 'credential.revoke', at, reason: req.body.reason } as {
                  type: string;
                  at: string;
                },
              },
              `${view.id}:revoke:${at}`,
              (x) => CLOSED.has(x.status),
              p.waitBudgetMs,
            );
            const after = (await p.readModel.credential(tenantId, view.id)) ?? view;
            // Done only once nothing of its issue can still be at a lock: a revoke that overtook an issue whose
            // turn was lost is in progress until the resent issue has swept what that turn made.
            const done =
              n !== null && (recorded !== null || (await pendingIssue(tenantId, view.id)) === null);
            return done
              ? { status: 200, body: after as unknown as Record<string, unknown> }
              : {
                  status: 202,
                  body: after as unknown as Record<string, unknown>,
                  headers: { location: `/api/v1/key-credentials/${view.id}` },
                };
          },
          {
            seal: { seal: (x) => x, open: (x) => x },
            claimMs: p.idempotencyClaimMs,
            onStoreFailed: logStoreFailure(req.log),
          },
        );
        return sendStored(reply, r);
      },
    );
  };
}

function pendingView(
  id: string,
  e: {
    propertyId: string;
    reservationId: string | null;
    holder: { kind: string; ref: string };
    kind: string;
    rooms: string[];
    areas: string[];
    validFrom: string;
    validUntil: string;
    at: string;
  },
) {
  return {
    id,
    propertyId: e.propertyId,
    reservationId: e.reservationId,
    holder: e.holder,
    kind: e.kind,
    rooms: e.rooms,
    areas: e.areas,
    validFrom: e.validFrom,
    validUntil: e.validUntil,
    vendor: null,
    status: 'requested',
    grants: [],
    version: 0,
    createdAt: e.at,
    updatedAt: e.at,
  };
}

/** Why a room cannot be served, as the caller is told. */
const UNRESOLVED: Record<UnresolvedRoom['code'], (room: string) => [ErrorCode, string]> = {
  NO_LOCK_FOR_ROOM: (room) => ['LOCK.NO_LOCK_FOR_ROOM', `room ${room}`],
  VENDOR_NOT_ENABLED: (room) => ['LOCK.VENDOR_NOT_ENABLED', `room ${room}`],
  KIND_NOT_SUPPORTED: (room) => ['LOCK.KIND_NOT_SUPPORTED', `room ${room}`],
  CARD_NUMBER_REQUIRED: (room) => [
    'LOCK.VALIDATION',
    `cardNumber is required: the lock of room ${room} registers cards by number`,
  ],
  RECIPIENT_REQUIRED: (room) => [
    'LOCK.VALIDATION',
    `recipient is required: the lock of room ${room} sends mobile keys to app accounts`,
  ],
};

/** What a REST issue chooses before its claim: its PINs, and the journal entry it offers its claim (if any). */
interface PreparedKey {
  pins: string[];
  journal?: string;
}

/** A REST issue's journal entry (as every journaled gateway command's: `journaledMailbox.ts`). */
const issueJournalId = (id: string) => `cmd:credential:${id}:${id}:issue`;

/** What a credential's answer shows before it exists: its request. */
type PendingIssue = Parameters<typeof pendingView>[1];

interface DoorPin {
  lockDeviceId: string;
  pin: string;
}

/** What the read model's grants say about PINs (fields outside the REST schema). */
interface GrantPins {
  lockDeviceId: string;
  pinIndex?: number;
  vendorSecret?: string;
  /** A PIN chosen after the issue: never in the issuing answer (read once through `pin-reads`). */
  newPin?: boolean;
}

/**
 * The PINs of an issuing answer. `pin`: the one the locks hold, a later prepared PIN if a lock already
 * had the first. Where vendors chose PINs themselves, `doorPins` gives each door's and `pin` is the first
 * door's (the room's).
 */
function issuedPins(
  prepared: string[],
  view: { vendor: string | null; grants: unknown[] } | null | undefined,
  open: (sealed: string) => string,
): { pin?: string; doorPins?: DoorPin[]; pinEntry?: string } {
  const grants = ((view?.grants ?? []) as GrantPins[]).filter((g) => !g.newPin);
  const pinIndex = Math.max(0, ...grants.map((g) => g.pinIndex ?? 0));
  const ours = prepared[pinIndex] ?? prepared[0];
  const entry = view?.vendor ? pinEntry(view.vendor) : undefined;
  const withEntry = <T extends object>(answer: T) => (entry ? { ...answer, pinEntry: entry } : answer);
  if (!grants.some((g) => g.vendorSecret)) return ours ? withEntry({ pin: ours }) : {};
  const doorPins = grants.flatMap((g) => {
    const pin = g.vendorSecret ? open(g.vendorSecret) : ours;
    return pin ? [{ lockDeviceId: g.lockDeviceId, pin }] : [];
  });
  return withEntry({ ...(doorPins[0] ? { pin: doorPins[0].pin } : {}), doorPins });
}

/** The credential as the commit that settled it wrote its row, when that commit was this process's. */
function settledView(n: StateNotification, tenantId: string): CredentialView | null {
  const rm = n.readModel;
  if (!rm || rm.table !== 'key_credentials' || rm.row.tenant_id !== tenantId) return null;
  return credentialViewOf(rm.row);
}

/** `now`, or just after `seen` if this process's clock runs behind it (ISO text). */
function notBefore(now: Date, seen: string): string {
  const after = Date.parse(seen) + 1;
  return new Date(Number.isNaN(after) ? now.getTime() : Math.max(now.getTime(), after)).toISOString();
}
