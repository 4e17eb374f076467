/**
 * Credential snapshots written by machine version 1 (grants as status records) become version 2 on
 * activation. The upgrade must not hide what the old code got wrong: a revoke it gave up on (a grant
 * `failed` while its credential closed) may have left a PIN that still opens the door, so it becomes a stalled
 * revoke, retried, and the credential is `revoking` again rather than `revoked`.
 */
import { describe, expect, it } from 'vitest';
import { transition } from 'xstate';
import { credentialV1ToV2, credentialV2ToV3 } from '../../src/actors/snapshotUpgrades.ts';
import {
  credentialMachine,
  credentialStatus,
  type CredentialSnapshot,
  newPinRefs,
} from '../../src/machines/index.ts';

const v1 = (value: string, grants: Record<string, unknown>[], closeGoal: string | null = null) => ({
  status: value === 'revoked' || value === 'expired' || value === 'failed' ? 'done' : 'active',
  value,
  historyValue: {},
  children: {},
  context: {
    id: 'c1',
    tenantId: 't1',
    propertyId: 'p1',
    reservationId: null,
    holder: { kind: 'guest', ref: 'g1' },
    kind: 'pin',
    rooms: ['r1'],
    areas: [],
    validFrom: '2026-01-01T14:00:00.000Z',
    validUntil: '2026-01-03T11:00:00.000Z',
    secret: 'pin0',
    grants,
    closeGoal,
    revokeReason: 'checked_out',
    failure: null,
    retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 60_000 },
    createdAt: '2026-01-01T10:00:00.000Z',
    updatedAt: '2026-01-01T10:00:00.000Z',
  },
});
const grant = (status: string, extra: Record<string, unknown> = {}) => ({
  roomId: 'r1',
  lockDeviceId: 'd1',
  vendor: 'ttlock',
  vendorDeviceRef: '1',
  status,
  vendorRef: 'pwd-1',
  attempts: 9,
  lastError: { code: 'AUTH', message: 'password rotated', retryable: false },
  ...extra,
});
const upgraded = (s: unknown) =>
  credentialMachine.resolveState(credentialV1ToV2(s) as never) as CredentialSnapshot;

describe('credential snapshots from machine version 1', () => {
  it('upgrade: an active credential keeps its issued grant as issued', () => {
    const s = upgraded(v1('active', [grant('issued', { lastError: null })]));
    expect(credentialStatus(s)).toBe('active');
    expect(s.context.grants.map((g) => g.value)).toEqual(['issued']);
  });

  it('upgrade: a revoke the old code gave up on is a stalled revoke again, retried by its timer', () => {
    const s = upgraded(v1('revoked', [grant('failed')], 'revoked'));
    expect(credentialStatus(s)).toBe('revoking');
    expect(s.context.grants.map((g) => g.value)).toEqual([{ closing: 'stalled' }]);
    // The timer migration 0006 sets (no token: from before tokens).
    const [next, actions] = transition(credentialMachine, s, {
      type: 'timer.retryGrant',
      at: '2026-01-05T00:00:00.000Z',
      lockDeviceId: 'd1',
    });
    expect(actions.map((a) => a.type)).toContain('callVendor');
    expect(actions.find((a) => a.type === 'callVendor')?.params).toMatchObject({
      intent: 'revokeGrant',
      operationId: 'c1:d1:revoke',
      vendorRef: 'pwd-1',
    });
    const revoke = actions.find((a) => a.type === 'callVendor')!.params as {
      operationId: string;
      attempt: number;
    };
    const [done] = transition(credentialMachine, next, {
      type: 'effect.done.revokeGrant',
      at: '2026-01-05T00:00:01.000Z',
      operationId: revoke.operationId,
      attempt: revoke.attempt,
    });
    expect(credentialStatus(done)).toBe('revoked');
  });

  it('upgrade: a revoked credential whose grants were revoked stays revoked', () => {
    const s = upgraded(v1('revoked', [grant('revoked', { lastError: null })], 'revoked'));
    expect(credentialStatus(s)).toBe('revoked');
    expect(s.context.grants.map((g) => g.value)).toEqual(['gone']);
  });

  it("upgrade: a credential issued before PIN announcements takes its vendor's PINs as the issue's, so only a later one is new", () => {
    const v2 = credentialV1ToV2(
      v1('active', [grant('issued', { lastError: null, vendor: 'salto-ks', vendorSecret: 'sealed-pin' })]),
    );
    const s = credentialMachine.resolveState(credentialV2ToV3(v2) as never) as CredentialSnapshot;
    expect(s.context.pinsAtIssue).toEqual(['d1@0:pwd-1']);
    expect(newPinRefs(s.context)).toEqual(new Set());
    // One still issuing records nothing: its issue will.
    const issuing = credentialV2ToV3(
      credentialV1ToV2(v1('issuing', [grant('issuing')])),
    ) as CredentialSnapshot;
    expect(issuing.context.pinsAtIssue).toBeUndefined();
  });
});
