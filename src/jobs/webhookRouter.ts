/**
 * Routes stored webhooks to the actors they concern. Claims unrouted inbox rows (SKIP LOCKED, so
 * several processes share the work), turns each into a lock-device report where its vendor
 * says something about a device, finds the device (and so the tenant) by the vendor's reference, and
 * sends `lockDevice.vendorReport` with message id `webhook:<inbox id>` (a re-run after a crash is
 * deduplicated). Rows that concern nothing known are marked routed with no tenant.
 */
import { sql } from 'kysely';
import type { ActorMailbox } from '../actors/index.ts';
import { DrainLoop } from '../actors/drainLoop.ts';
import { ensureError } from '../errors.ts';
import type { Db } from '../io/db/index.ts';
import { type DeviceReport, seamDeviceReport } from '../io/vendors/seam/webhookEvents.ts';

const interpreters: Record<string, (body: unknown) => DeviceReport | null> = {
  seam: seamDeviceReport,
  // TTLock callbacks are confirmed through lockRecord/list before they count: not routed yet.
};

export interface WebhookRouterDeps {
  dispatcherDb: Db;
  mailbox: ActorMailbox;
  clock: { now(): Date };
  pollMs?: number;
  log?: (msg: string, data?: Record<string, unknown>) => void;
  onRouted?: (vendor: string, outcome: 'routed' | 'unknown_device' | 'ignored') => void;
}

export class WebhookRouter {
  private readonly loop: DrainLoop;

  constructor(private readonly d: WebhookRouterDeps) {
    this.loop = new DrainLoop(() => this.routeOnce(), {
      everyMs: d.pollMs ?? 500,
      onError: (e) => d.log?.('webhook routing failed', { err: ensureError(e).message }),
    });
  }

  start(): void {
    this.loop.start();
  }

  nudge(): void {
    this.loop.nudge();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Routes one batch; returns how many rows it took. */
  async routeOnce(limit = 200): Promise<number> {
    return this.d.dispatcherDb.transaction().execute(async (tx) => {
      // Claimed and marked in one statement (one row version per webhook, not a lock then an update); a
      // crash before commit rolls the mark back and the rows are routed again, deduplicated by message id.
      const claimed = await sql<{ id: string; vendor: string; body: unknown }>`
        update webhook_inbox set routed_at = now()
         where id in (select id from webhook_inbox where routed_at is null
                       order by id limit ${limit} for update skip locked)
        returning id, vendor, body`.execute(tx);
      if (claimed.rows.length === 0) return 0;
      const rows = claimed.rows.sort((x, y) => Number(BigInt(x.id) - BigInt(y.id)));
      const reports = rows.map((r) => ({ row: r, report: interpreters[r.vendor]?.(r.body) ?? null }));
      const devices = new Map<string, { tenantId: string; deviceId: string }>();
      for (const vendor of new Set(reports.filter((x) => x.report).map((x) => x.row.vendor))) {
        const refs = reports
          .filter((x) => x.row.vendor === vendor && x.report)
          .map((x) => x.report!.vendorDeviceRef);
        const found = await sql<{ tenant_id: string; device_id: string; vendor_device_ref: string }>`
          select * from lock_devices_by_vendor_ref(${vendor}, ${refs}::text[])`.execute(tx);
        for (const f of found.rows)
          devices.set(`${vendor}\u0000${f.vendor_device_ref}`, {
            tenantId: f.tenant_id,
            deviceId: f.device_id,
          });
      }
      const at = this.d.clock.now().toISOString();
      const routedTenant = new Map<string, string | null>();
      for (const { row, report } of reports) {
        const device = report ? devices.get(`${row.vendor}\u0000${report.vendorDeviceRef}`) : undefined;
        if (!report || !device) {
          routedTenant.set(row.id, null);
          this.d.onRouted?.(row.vendor, report ? 'unknown_device' : 'ignored');
          continue;
        }
        const { vendorDeviceRef: _ref, ...facts } = report;
        // Before the row is marked routed (same transaction): a crash re-sends, and the id deduplicates.
        await this.d.mailbox.send(
          { type: 'lockDevice', id: device.deviceId },
          { tenantId: device.tenantId, event: { type: 'lockDevice.vendorReport', at, ...facts } },
          `webhook:${row.vendor}:${row.id}`,
        );
        routedTenant.set(row.id, device.tenantId);
        this.d.onRouted?.(row.vendor, 'routed');
      }
      // Only webhooks that reached a device get their tenant (for the tenant's own reads).
      const ids = [...routedTenant].filter(([, t]) => t !== null).map(([id]) => id);
      if (ids.length > 0) {
        const tenants = ids.map((id) => routedTenant.get(id) ?? null);
        await sql`
          update webhook_inbox w set tenant_id = v.tenant_id
            from unnest(${ids}::bigint[], ${tenants}::text[]) as v(id, tenant_id)
           where w.id = v.id`.execute(tx);
      }
      return rows.length;
    });
  }
}
