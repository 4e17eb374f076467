/**
 * The synthetic vendor check: the read-only contract checks against each configured adapter, as metrics. Run
 * by the process that owns partition 0, against the TTLock simulator (a real HTTP server): all pass while the
 * vendor answers; during an outage each fails as OFFLINE; it never issues, changes or revokes anything.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VendorProbe } from '../../src/jobs/vendorProbe.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

describe('vendor probe', () => {
  let h: Harness;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  const up = async (check: string, vendor = 'ttlock') => {
    const m = (await h.service.metrics.registry.getMetricsAsJSON()).find(
      (x) => x.name === 'lock_vendor_probe_up',
    );
    return m?.values.find((v) => v.labels.vendor === vendor && v.labels.check === check)?.value;
  };
  const failures = async (check: string, failure: string) => {
    const m = (await h.service.metrics.registry.getMetricsAsJSON()).find(
      (x) => x.name === 'lock_vendor_probe_failures_total',
    );
    return (
      m?.values.find(
        (v) => v.labels.vendor === 'ttlock' && v.labels.check === check && v.labels.failure === failure,
      )?.value ?? 0
    );
  };

  beforeAll(async () => {
    // Probed by hand (runOnce) below: the schedule's own runs would interleave with the outage switch.
    h = await startHarness(
      { vendorProbeEveryMs: 0 },
      { 'generic-wiegand': { format: 'H10301', facilityCode: 12 } },
    );
    await seedProperty(h.service, tenantId, { '101': '7001', '102': '7002' });
    await eventually(async () => h.service.runtime.ownedPartitions().includes(0) || undefined, 10_000);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('probe: every read-only check passes against a vendor that answers, and nothing is written there', async () => {
    const before = h.ttlock.state();
    expect(await h.service.probe.runOnce()).toBe(1);
    for (const check of ['health', 'list_locks', 'get_lock']) expect(await up(check), check).toBe(1);
    // The simulator's locks report their battery: the check ran too.
    expect(await up('battery')).toBe(1);
    expect(h.ttlock.state()).toEqual(before);
    const last = (await h.service.metrics.registry.getMetricsAsJSON()).find(
      (x) => x.name === 'lock_vendor_probe_last_run_timestamp_seconds',
    );
    expect(last?.values[0]?.value).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  it('probe: a vendor outage fails the checks as OFFLINE, and they pass again once it is back', async () => {
    h.ttlock.setFaults({ outage: true });
    try {
      await h.service.probe.runOnce();
      expect(await up('list_locks')).toBe(0);
      expect(await failures('list_locks', 'OFFLINE')).toBeGreaterThan(0);
    } finally {
      h.ttlock.setFaults({ outage: false });
    }
    await h.service.probe.runOnce();
    expect(await up('list_locks')).toBe(1);
  });

  it('probe: doors written at the desk are only health-checked; a vendor no longer configured drops out', async () => {
    const gw = await buildTestGateway(h);
    try {
      const { propertyId } = await seedProperty(h.service, tenantId, { '201': '7101' });
      const adapter = async (status: string) =>
        gw.app.inject({
          method: 'PUT',
          url: `/api/v1/properties/${propertyId}/vendor-adapters/generic-wiegand`,
          headers: { authorization: `Bearer ${await gw.token(tenantId)}` },
          payload: { status, config: { format: 'H10301', facilityCode: 12 } },
        });
      expect((await adapter('active')).statusCode).toBeLessThan(300);
      await h.service.probe.runOnce();
      // No vendor cloud lists these doors: a missing list is not a failure there.
      expect(await up('health', 'generic-wiegand')).toBe(1);
      expect(await up('list_locks', 'generic-wiegand')).toBeUndefined();
      expect(await up('list_locks')).toBe(1);
      expect((await adapter('disabled')).statusCode).toBeLessThan(300);
      await h.service.probe.runOnce();
      expect(await up('health', 'generic-wiegand')).toBeUndefined();
      expect(await up('health')).toBe(1);
    } finally {
      await gw.app.close();
    }
  });

  it('probe: a process that is not elected (does not own partition 0) probes nothing', async () => {
    const seen: string[] = [];
    const idle = new VendorProbe({
      dispatcherDb: h.service.dispatcherDb,
      adapters: h.service.adapters,
      elected: () => false,
      metrics: {
        reset: () => seen.push('reset'),
        up: (vendor, check) => seen.push(`${vendor}/${check}`),
        seconds: () => {},
        failed: () => {},
        ran: () => seen.push('ran'),
      },
      everyMs: 60_000,
      timeoutMs: 1000,
      now: () => new Date(),
    });
    expect(await idle.runOnce()).toBe(0);
    expect(seen).toEqual([]);
  });
});
