/**
 * A vendor with no latency and no cost, as the peers' benchmarks have one (`../shared/bench/`: the vendor step
 * is a Map write in the same process): `BENCH_VENDOR=memory` puts it in place of the TTLock simulator, so the
 * ratio against a peer compares the same step. Credentials live in a Map, idempotent under the operation id
 * as a real adapter is; the capabilities are TTLock's (the planner and the machines see a TTLock property).
 */
import { capabilities as ttlock } from '../src/io/vendors/ttlock/adapter.ts';
import type { LockAdapter, VendorLock } from '../src/io/vendors/port.ts';

export function memoryVendor(lockRefs: readonly string[]): { adapter: LockAdapter } {
  const locks: VendorLock[] = lockRefs.map((ref) => ({
    ref,
    name: `lock ${ref}`,
    battery: 100,
    online: true,
  }));
  const byOperation = new Map<string, string>();
  const credentials = new Map<string, { lockRef: string; validUntil: Date }>();
  let next = 0;
  const adapter: LockAdapter = {
    vendor: 'ttlock',
    capabilities: () => ttlock,
    listLocks: async () => locks,
    getLock: async (ref) => locks.find((l) => l.ref === ref) ?? { ref, name: ref },
    async issueCredential(req) {
      let ref = byOperation.get(req.operationId);
      if (!ref) {
        ref = `mem-${++next}`;
        byOperation.set(req.operationId, ref);
        credentials.set(ref, { lockRef: req.lockRef, validUntil: req.validUntil });
      }
      return { vendorRef: ref };
    },
    async modifyValidity(req) {
      const ref = req.vendorRef ?? byOperation.get(req.issueOperationId);
      const c = ref ? credentials.get(ref) : undefined;
      if (!ref || !c) return { outcome: 'reissue_required' };
      c.validUntil = req.validUntil;
      return { outcome: 'modified', vendorRef: ref };
    },
    async revokeCredential(req) {
      const ref = req.vendorRef ?? byOperation.get(req.issueOperationId);
      if (ref) credentials.delete(ref);
    },
    remoteUnlock: async () => {},
    getBattery: async () => 100,
    listAccessRecords: async () => [],
    health: async () => {},
  };
  return { adapter };
}
