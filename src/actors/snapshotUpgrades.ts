/**
 * Upgrades of persisted snapshots written by earlier machine versions, applied on activation (the row is
 * rewritten by the actor's next commit). Pure.
 *
 * credential 1 → 2 (and 2 → 3 below): grants were records with a status string (credentialGrants.ts before the grant
 * machine); they become grant-machine snapshots. Operation ids keep their format, so the outcome of a call
 * in flight during the upgrade still matches, and timers from before carry no token, which a grant accepts.
 */
import {
  type Grant,
  type GrantContext,
  holdsItsCredential,
  pinRef,
  type RetryPolicy,
} from '../machines/index.ts';

interface V1Grant {
  roomId: string;
  lockDeviceId: string;
  vendor: string;
  vendorDeviceRef: string;
  status: string;
  vendorRef: string | null;
  attempts: number;
  lastError: GrantContext['lastError'];
  generation?: number;
  pinIndex?: number;
  vendorSecret?: string;
}

interface V1Credential {
  value: string;
  context: Record<string, unknown> & {
    id: string;
    propertyId: string;
    kind: GrantContext['kind'];
    validFrom: string;
    validUntil: string;
    secret: string | null;
    retry: RetryPolicy;
    grants: V1Grant[];
    updates?: number;
    pinIndex?: number;
    spareSecrets?: string[];
  };
}

const gen = (g: number) => (g ? `@${g}` : '');

function grantV2(c: V1Credential['context'], credentialState: string, g: V1Grant): Grant {
  const generation = g.generation ?? 0;
  const pinIndex = g.pinIndex ?? 0;
  const window = { validFrom: c.validFrom, validUntil: c.validUntil };
  const closing = ['revoking', 'revoked', 'expired', 'failed'].includes(credentialState);
  const want = {
    ...window,
    secret: c.secret,
    pinIndex: c.pinIndex ?? 0,
    open: !closing && g.status !== 'revoke_wait',
  };
  const params = { ...window, secret: c.secret, pinIndex };
  const base = `${c.id}:${g.lockDeviceId}`;
  const op = (name: 'issue' | 'modify' | 'revoke') => ({
    name,
    id: name === 'modify' ? `${base}:modify@${c.updates ?? 0}` : `${base}:${name}${gen(generation)}`,
    attempt: Math.max(1, g.attempts),
    params,
  });
  const context: GrantContext = {
    roomId: g.roomId,
    lockDeviceId: g.lockDeviceId,
    vendor: g.vendor,
    vendorDeviceRef: g.vendorDeviceRef,
    credentialId: c.id,
    propertyId: c.propertyId,
    kind: c.kind,
    retry: c.retry,
    want,
    generation,
    held: null,
    vendorRef: g.vendorRef,
    ...(g.vendorSecret ? { vendorSecret: g.vendorSecret } : {}),
    op: null,
    modifications: c.updates ?? 0,
    mayExist: true,
    mustReplace: false,
    lastError: g.lastError,
    stalled: false,
    timerToken: 0,
  };
  const held = { ...window, pinIndex };
  switch (g.status) {
    case 'issued':
      return { value: 'issued', context: { ...context, held } };
    case 'revoked':
      return { value: 'gone', context: { ...context, mayExist: false } };
    case 'failed':
      // A grant that failed while closing (or that the vendor may hold) is a revoke the old code gave up on:
      // its PIN may still open the door. It becomes a stalled revoke (migration 0006 sets a timer that
      // retries it).
      return closing || g.vendorRef
        ? {
            value: { closing: 'stalled' },
            context: { ...context, want: { ...want, open: false }, held, stalled: true, op: op('revoke') },
          }
        : { value: 'issueFailed', context: { ...context, op: op('issue') } };
    case 'issuing':
    case 'revoke_wait':
      return { value: 'issuing', context: { ...context, op: op('issue') } };
    case 'retry_wait':
      return { value: 'issueRetryWait', context: { ...context, op: op('issue') } };
    case 'modifying':
      return { value: 'modifying', context: { ...context, held, op: op('modify') } };
    case 'modify_retry_wait':
      return { value: 'modifyRetryWait', context: { ...context, held, op: op('modify') } };
    case 'revoking':
      return { value: { closing: 'revoking' }, context: { ...context, held, op: op('revoke') } };
    case 'revoke_retry_wait':
      return { value: { closing: 'retryWait' }, context: { ...context, held, op: op('revoke') } };
    case 'reissue_revoking':
      return { value: { replacing: 'revoking' }, context: { ...context, held, op: op('revoke') } };
    case 'reissue_revoke_retry_wait':
      return { value: { replacing: 'retryWait' }, context: { ...context, held, op: op('revoke') } };
    default:
      throw new Error(`credential ${c.id}: no upgrade for a grant in ${g.status}`);
  }
}

/** A version-1 credential snapshot as version 2. */
export function credentialV1ToV2(snapshot: unknown): unknown {
  const s = snapshot as V1Credential;
  const c = s.context;
  const grants = c.grants.map((g) => grantV2(c, s.value, g));
  // A credential the old code reported closed while a revoke had failed is closing again: honestly revoking.
  const stranded =
    ['revoked', 'expired', 'failed'].includes(s.value) && grants.some((g) => g.context.stalled);
  const closeGoal = (c.closeGoal as string | null) ?? (s.value === 'revoking' ? 'revoked' : s.value);
  return {
    ...s,
    value: stranded ? 'revoking' : s.value,
    context: {
      ...c,
      grants,
      closeGoal,
      spareSecrets: c.spareSecrets ?? [],
      pinIndex: c.pinIndex ?? 0,
      updates: c.updates ?? 0,
      windowSeq: null,
      deferredUpdate: null,
      stallsReported: [],
    },
    // Terminal states were `final` in version 1; they are ordinary (total) states now.
    status: 'active',
  };
}

/**
 * credential 2 → 3: a vendor-chosen PIN the issuing answer did not give is announced and read once
 * (`pinsAtIssue`). A credential issued before knows only that its PINs then were the issue's: they are
 * recorded as such, so a PIN a later move brings is new.
 */
export function credentialV2ToV3(snapshot: unknown): unknown {
  const s = snapshot as { value: unknown; context: { grants: Grant[]; pinsAtIssue?: string[] } };
  const notIssuedYet = s.value === 'new' || s.value === 'tombstoned' || s.value === 'issuing';
  if (notIssuedYet || s.context.pinsAtIssue) return snapshot;
  const pinsAtIssue = s.context.grants
    .filter((g) => g.context.vendorSecret && holdsItsCredential(g))
    .map((g) => pinRef(g.context));
  return { ...s, context: { ...s.context, pinsAtIssue } };
}
