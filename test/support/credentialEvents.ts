/** Event builders for the credential decider specs (credential c1, tenant t1, TTLock locks d<n>). */
export const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 10, 0, s)).toISOString();

export const target = (n: number) => ({
  roomId: `r${n}`,
  lockDeviceId: `d${n}`,
  vendor: 'ttlock',
  vendorDeviceRef: `${n}`,
});

/** A PIN credential for room locks 1…n, two nights from 2026-01-01 14:00. */
export function issueEvent(locks: number[], extra: Record<string, unknown> = {}) {
  return {
    type: 'credential.issue',
    at: at(0),
    propertyId: 'p1',
    reservationId: 'res1',
    holder: { kind: 'guest', ref: 'g1' },
    kind: 'pin',
    rooms: locks.map((n) => `r${n}`),
    areas: [],
    validFrom: '2026-01-01T14:00:00.000Z',
    validUntil: '2026-01-03T11:00:00.000Z',
    secret: 'v1.enc',
    targets: locks.map(target),
    unresolved: [],
    ...extra,
  };
}

/** Each grant's state, as the grant machine names it (`issuing`, `issueRetryWait`, `{closing: 'revoking'}`…). */
export function grantStates(context: Record<string, unknown>): unknown[] {
  return (context.grants as { value: unknown }[]).map((g) => g.value);
}

/** The vendor's answer to a revoke intent: done. */
export function revoked(intent: unknown) {
  const i = intent as { operationId: string; attempt: number };
  return {
    type: 'effect.done.revokeGrant',
    at: at(30),
    operationId: i.operationId,
    attempt: i.attempt,
    vendorRef: null,
  };
}
