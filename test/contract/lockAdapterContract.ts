/**
 * One contract for every LockAdapter, run against each vendor's simulator (Emmett's "one suite, every
 * implementation"). A vendor joins by providing a `ContractVendor`: its adapter, a few of its locks, a
 * view of what the vendor holds, and the simulator's fault switches.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LockAdapter, VendorFailure } from '../../src/io/vendors/port.ts';
import type { KeyKind } from '../../src/machines/index.ts';
import { VendorError } from '../../src/io/vendors/port.ts';
import { isSimplePin } from '../../src/issuance/credentialRequests.ts';

export interface HeldCredential {
  ref: string;
  validFrom: string;
  validUntil: string;
}

export interface ContractVendor {
  adapter: LockAdapter;
  /** The kind the suite issues (default: pin). */
  kind?: KeyKind;
  /** The PIN the vendor holds for a credential (vendors that choose PINs themselves). */
  heldPin?(lockRef: string, ref: string): Promise<string | null>;
  /** Two locks the suite may issue on. */
  lockRefs: [string, string];
  unknownLockRef: string;
  credentialsOn(lockRef: string): Promise<HeldCredential[]>;
  /** Fault switches; a vendor whose simulator cannot model one leaves it out (its case is skipped). */
  faults: {
    clear(): void | Promise<void>;
    outage(): void | Promise<void>;
    rateLimit?(): void;
    clockSkew?(ms: number): void;
    expireTokens?(): void;
    /** Switches on one of the vendor's own faults named in `ContractModels.vendorFaults`. */
    named?(name: string): void | Promise<void>;
  };
  /** A PIN this vendor accepts, different on each call. */
  pin(): string;
  /** A card number, different on each call (kind card at vendors that register card numbers). */
  cardNumber?(): string;
  /** A guest app account, different on each call (kind mobile_key at vendors that send keys to accounts). */
  recipient?(): string;
  close(): Promise<void>;
}

/** `credentialsOn` over a simulator's state: the credentials it holds on one lock. */
export function heldOn(
  state: () => { credentials: (HeldCredential & { lockRef: string })[] },
): (lockRef: string) => Promise<HeldCredential[]> {
  return async (lockRef) =>
    state()
      .credentials.filter((c) => c.lockRef === lockRef)
      .map(({ ref, validFrom, validUntil }) => ({ ref, validFrom, validUntil }));
}

/** A PIN source that never repeats itself (a vendor may refuse the same PIN twice on a lock). */
export function uniquePins(): () => string {
  const used = new Set<string>();
  return () => {
    for (;;) {
      const p = String(randomInt(100000, 1000000));
      // Vendors refuse "too simple" PINs (TTLock -2032): the suite's PINs are ones they take.
      if (!used.has(p) && !isSimplePin(p)) {
        used.add(p);
        return p;
      }
    }
  };
}

const window = (days: number) => ({
  validFrom: new Date(Date.UTC(2026, 11, 1 + days, 14)),
  validUntil: new Date(Date.UTC(2026, 11, 3 + days, 11)),
});

async function failure(p: Promise<unknown>): Promise<VendorError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof VendorError) return e;
    throw e;
  }
  throw new Error('expected a VendorError');
}

/** What the vendor's simulator can model (all by default). */
export interface ContractModels {
  rateLimit?: boolean;
  clockSkew?: boolean;
  tokenExpiry?: boolean;
  /** Told apart in test names when a vendor runs the suite twice (e.g. once per kind). */
  label?: string;
  /** Vendor-specific faults and the normalized failure an issue must then fail with. */
  vendorFaults?: Record<string, { failure: VendorFailure; retryable: boolean }>;
}

export function lockAdapterContract(
  vendor: string,
  start: () => Promise<ContractVendor>,
  models: ContractModels = {},
): void {
  const m = { rateLimit: true, clockSkew: true, tokenExpiry: true, ...models };
  const name = models.label ? `${vendor} (${models.label})` : vendor;
  describe(`LockAdapter contract: ${name}`, () => {
    let v: ContractVendor;
    beforeAll(async () => {
      v = await start();
    });
    afterAll(async () => {
      await v?.close();
    });
    beforeEach(async () => {
      await v.faults.clear();
    });

    const issue = (lockRef: string, operationId = randomUUID(), lookupFirst = false) => ({
      operationId,
      lockRef,
      kind: v.kind ?? ('pin' as const),
      ...window(0),
      pin: (v.kind ?? 'pin') === 'pin' ? v.pin() : null,
      cardNumber: v.kind === 'card' && v.cardNumber ? v.cardNumber() : null,
      recipient: v.kind === 'mobile_key' && v.recipient ? v.recipient() : null,
      lookupFirst,
    });

    it(`${name}: capabilities name the vendor and the kinds it issues`, () => {
      const c = v.adapter.capabilities();
      expect(c.vendor).toBe(vendor);
      expect(c.kinds.length).toBeGreaterThan(0);
    });

    it(`${name}: lists its locks and reads one; an unknown lock is NOT_FOUND`, async () => {
      const refs = (await v.adapter.listLocks()).map((l) => l.ref);
      expect(refs).toEqual(expect.arrayContaining(v.lockRefs));
      expect((await v.adapter.getLock(v.lockRefs[0])).ref).toBe(v.lockRefs[0]);
      const e = await failure(v.adapter.getLock(v.unknownLockRef));
      expect([e.failure, e.retryable]).toEqual(['NOT_FOUND', false]);
    });

    it(`${name}: issues one credential with the validity window`, async () => {
      const before = await v.credentialsOn(v.lockRefs[0]);
      const req = issue(v.lockRefs[0]);
      const { vendorRef, pin } = await v.adapter.issueCredential(req);
      const after = await v.credentialsOn(v.lockRefs[0]);
      expect(after).toHaveLength(before.length + 1);
      // A vendor that chooses PINs answers with the one it holds; one that takes ours answers with none.
      if (v.adapter.capabilities().callerChosenPin) expect(pin).toBeUndefined();
      else expect(pin).toBe(await v.heldPin?.(v.lockRefs[0], vendorRef));
      expect(after.find((c) => c.ref === vendorRef)).toEqual({
        ref: vendorRef,
        validFrom: req.validFrom.toISOString(),
        validUntil: req.validUntil.toISOString(),
      });
    });

    it(`${name}: the same operation run again after a crash leaves exactly one credential`, async () => {
      const first = issue(v.lockRefs[1]);
      const before = await v.credentialsOn(v.lockRefs[1]);
      const a = await v.adapter.issueCredential(first);
      // The rerun (sweeper after a crash) looks up before it creates.
      const b = await v.adapter.issueCredential({ ...first, lookupFirst: true });
      expect(b.vendorRef).toBe(a.vendorRef);
      expect(await v.credentialsOn(v.lockRefs[1])).toHaveLength(before.length + 1);
    });

    it(`${name}: updates validity in place, or says a reissue is required`, async () => {
      const req = issue(v.lockRefs[0]);
      const { vendorRef } = await v.adapter.issueCredential(req);
      const next = window(1);
      const r = await v.adapter.modifyValidity({
        issueOperationId: req.operationId,
        lockRef: req.lockRef,
        kind: req.kind,
        vendorRef,
        ...next,
      });
      if (v.adapter.capabilities().updateValidityInPlace) {
        expect(r).toEqual({ outcome: 'modified', vendorRef });
        const held = (await v.credentialsOn(v.lockRefs[0])).find((c) => c.ref === vendorRef);
        expect(held).toEqual({
          ref: vendorRef,
          validFrom: next.validFrom.toISOString(),
          validUntil: next.validUntil.toISOString(),
        });
      } else {
        expect(r).toEqual({ outcome: 'reissue_required' });
      }
    });

    it(`${name}: revokes by reference or by operation id; revoking again is success`, async () => {
      const a = issue(v.lockRefs[0]);
      const { vendorRef } = await v.adapter.issueCredential(a);
      await v.adapter.revokeCredential({
        issueOperationId: a.operationId,
        lockRef: a.lockRef,
        kind: a.kind,
        vendorRef,
      });
      expect((await v.credentialsOn(a.lockRef)).map((c) => c.ref)).not.toContain(vendorRef);
      await v.adapter.revokeCredential({
        issueOperationId: a.operationId,
        lockRef: a.lockRef,
        kind: a.kind,
        vendorRef,
      });

      // The issue's answer was lost: only the operation id is known.
      const b = issue(v.lockRefs[0]);
      const issued = await v.adapter.issueCredential(b);
      await v.adapter.revokeCredential({
        issueOperationId: b.operationId,
        lockRef: b.lockRef,
        kind: b.kind,
        vendorRef: null,
      });
      expect((await v.credentialsOn(b.lockRef)).map((c) => c.ref)).not.toContain(issued.vendorRef);
    });

    it.skipIf(!m.tokenExpiry)(`${name}: re-authenticates when its token expires`, async () => {
      await v.adapter.health();
      v.faults.expireTokens?.();
      await expect(v.adapter.health()).resolves.toBeUndefined();
    });

    it.skipIf(!m.rateLimit)(`${name}: a rate limit is RATE_LIMITED and retryable`, async () => {
      await v.adapter.health();
      v.faults.rateLimit?.();
      const e = await failure(v.adapter.issueCredential(issue(v.lockRefs[0])));
      expect([e.failure, e.retryable]).toEqual(['RATE_LIMITED', true]);
    });

    it.skipIf(!m.clockSkew)(`${name}: a clock too far off is CLOCK_SKEW`, async () => {
      await v.adapter.health();
      v.faults.clockSkew?.(10 * 60_000);
      const e = await failure(v.adapter.health());
      expect(e.failure).toBe('CLOCK_SKEW');
    });

    for (const [name, expected] of Object.entries(m.vendorFaults ?? {})) {
      it(`${name}: ${name} is ${expected.failure} (${expected.retryable ? 'retryable' : 'permanent'})`, async () => {
        await v.faults.named?.(name);
        const e = await failure(v.adapter.issueCredential(issue(v.lockRefs[0])));
        expect([e.failure, e.retryable]).toEqual([expected.failure, expected.retryable]);
      });
    }

    it(`${name}: an outage is OFFLINE and retryable`, async () => {
      await v.faults.outage();
      const e = await failure(v.adapter.issueCredential(issue(v.lockRefs[0])));
      expect([e.failure, e.retryable]).toEqual(['OFFLINE', true]);
    });

    it(`${name}: battery and remote unlock as its capabilities say`, async () => {
      const c = v.adapter.capabilities();
      const battery = await v.adapter.getBattery(v.lockRefs[0]);
      // A vendor that reports battery may still not know it for a given device (null).
      if (c.battery) expect(battery === null || (battery >= 0 && battery <= 100)).toBe(true);
      else expect(battery).toBeNull();
      if (c.remoteUnlock) await expect(v.adapter.remoteUnlock(v.lockRefs[0])).resolves.toBeUndefined();
      else expect((await failure(v.adapter.remoteUnlock(v.lockRefs[0]))).failure).toBe('NOT_SUPPORTED');
    });
  });
}
