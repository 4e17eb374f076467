/**
 * Routes stored webhooks to the actors they concern. Claims unrouted inbox rows (SKIP LOCKED, so
 * several processes share the work), reads what each vendor's webhook says (`WebhookFacts`), finds the
 * device (and so the tenant and property) by the vendor's reference, and sends:
 * - signed device facts (Seam) as `lockDevice.vendorReport`;
 * - claimed access records (TTLock, unsigned) only once the vendor's API confirms them: the battery of
 *   the latest confirmed record is reported; unconfirmed claims are dropped;
 * - a credential that never reached its lock (TTLock notice 4) as `credential.grantLost`.
 * Message ids are `webhook:<vendor>:<inbox id>`, so a re-run after a crash is deduplicated. A webhook
 * whose confirmation failed (vendor unreachable) is left for a later pass (`route_after`).
 */
import { sql } from 'kysely';
import type { ActorMailbox } from '../actors/index.ts';
import { DrainLoop } from '../actors/drainLoop.ts';
import { ensureError } from '../errors.ts';
import type { Db, Tx } from '../io/db/index.ts';
import type { AdapterResolver } from '../io/vendors/adapterResolver.ts';
import { webhookFacts } from '../io/vendors/registry.ts';
import type { WebhookFacts } from '../io/vendors/webhookFacts.ts';
import type { CredentialEvent } from '../machines/index.ts';

/** Claimed records match the vendor's own when their lock times are this close (ms). */
const RECORD_MATCH_MS = 1000;
const RETRY_AFTER = '30 seconds';
/**
 * A notice about a credential not known (yet) is tried this many times: the vendor's notice can overtake
 * the commit of the issue it is about; a notice about a credential that is not ours never matches.
 */
const LOST_CREDENTIAL_ATTEMPTS = 3;
/**
 * Routed webhooks are kept this long, for deduplication (vendors redeliver for up to a few days) and for
 * looking back; then they are deleted in batches.
 */
const KEEP_ROUTED_DAYS = 30;
const PRUNE_EVERY_MS = 10 * 60_000;
const PRUNE_BATCH = 5000;

export type RouteOutcome = 'routed' | 'unknown_device' | 'ignored' | 'unconfirmed' | 'deferred';

export interface WebhookRouterDeps {
  dispatcherDb: Db;
  mailbox: ActorMailbox;
  /** Confirms claims through the vendor's API (the device's property's adapter). */
  adapters?: AdapterResolver;
  clock: { now(): Date };
  pollMs?: number;
  log?: (msg: string, data?: Record<string, unknown>) => void;
  onRouted?: (vendor: string, outcome: RouteOutcome) => void;
}

interface Device {
  tenantId: string;
  deviceId: string;
  propertyId: string;
}

interface InboxRow {
  id: string;
  vendor: string;
  body: unknown;
  route_attempts: number;
}

export class WebhookRouter {
  private readonly loop: DrainLoop;
  private readonly pruning: DrainLoop;

  constructor(private readonly d: WebhookRouterDeps) {
    this.loop = new DrainLoop(() => this.routeOnce(), {
      everyMs: d.pollMs ?? 500,
      onError: (e) => d.log?.('webhook routing failed', { err: ensureError(e).message }),
    });
    this.pruning = new DrainLoop(() => this.pruneOnce(), {
      everyMs: PRUNE_EVERY_MS,
      onError: (e) => d.log?.('webhook pruning failed', { err: ensureError(e).message }),
    });
  }

  start(): void {
    this.loop.start();
    this.pruning.start();
  }

  nudge(): void {
    this.loop.nudge();
  }

  async stop(): Promise<void> {
    await Promise.all([this.loop.stop(), this.pruning.stop()]);
  }

  /** Deletes one batch of webhooks routed more than KEEP_ROUTED_DAYS ago; returns how many. */
  async pruneOnce(keepDays = KEEP_ROUTED_DAYS): Promise<number> {
    const r = await sql`
      delete from webhook_inbox where id in (
        select id from webhook_inbox where routed_at < now() - make_interval(days => ${keepDays})
         limit ${PRUNE_BATCH} for update skip locked)`.execute(this.d.dispatcherDb);
    return Number(r.numAffectedRows ?? 0);
  }

  /** Routes one batch; returns how many rows it took. */
  async routeOnce(limit = 200): Promise<number> {
    return this.d.dispatcherDb.transaction().execute(async (tx) => {
      // Claimed and marked in one statement (one row version per webhook, not a lock then an update); a
      // crash before commit rolls the mark back and the rows are routed again, deduplicated by message id.
      const claimed = await sql<InboxRow>`
        update webhook_inbox set routed_at = now()
         where id in (select id from webhook_inbox
                       where routed_at is null and (route_after is null or route_after <= now())
                       order by id limit ${limit} for update skip locked)
        returning id, vendor, body, route_attempts`.execute(tx);
      if (claimed.rows.length === 0) return 0;
      const rows = claimed.rows.sort((x, y) => Number(BigInt(x.id) - BigInt(y.id)));
      const facts = rows.map((row) => ({ row, facts: webhookFacts(row.vendor, row.body) }));
      const devices = await this.devicesOf(
        tx,
        facts.flatMap((x) => (x.facts ? [{ vendor: x.row.vendor, ref: x.facts.vendorDeviceRef }] : [])),
      );
      const tenantOf = new Map<string, string>();
      const deferred: string[] = [];
      for (const { row, facts: f } of facts) {
        const device = f ? devices.get(`${row.vendor}\u0000${f.vendorDeviceRef}`) : undefined;
        let outcome: RouteOutcome;
        if (!f) outcome = 'ignored';
        else if (!device) outcome = 'unknown_device';
        else {
          try {
            outcome = await this.route(tx, row, f, device);
          } catch (e) {
            this.d.log?.('webhook confirmation failed; retried later', {
              vendor: row.vendor,
              inboxId: row.id,
              err: ensureError(e).message,
            });
            outcome = 'deferred';
          }
        }
        if (outcome === 'deferred') deferred.push(row.id);
        else if (outcome === 'routed' && device) tenantOf.set(row.id, device.tenantId);
        this.d.onRouted?.(row.vendor, outcome);
      }
      // Only webhooks that reached an actor get their tenant (for the tenant's own reads).
      if (tenantOf.size > 0) {
        const ids = [...tenantOf.keys()];
        await sql`
          update webhook_inbox w set tenant_id = v.tenant_id
            from unnest(${ids}::bigint[], ${ids.map((id) => tenantOf.get(id) ?? null)}::text[]) as v(id, tenant_id)
           where w.id = v.id`.execute(tx);
      }
      if (deferred.length > 0) {
        await sql`
          update webhook_inbox
             set routed_at = null, route_after = now() + ${RETRY_AFTER}::interval, route_attempts = route_attempts + 1
           where id = any(${deferred}::bigint[])`.execute(tx);
      }
      return rows.length;
    });
  }

  private async devicesOf(tx: Tx, refs: { vendor: string; ref: string }[]): Promise<Map<string, Device>> {
    const out = new Map<string, Device>();
    for (const vendor of new Set(refs.map((r) => r.vendor))) {
      const found = await sql<{
        tenant_id: string;
        device_id: string;
        property_id: string;
        vendor_device_ref: string;
      }>`
        select * from lock_device_routes(${vendor}, ${refs.filter((r) => r.vendor === vendor).map((r) => r.ref)}::text[])`.execute(
        tx,
      );
      for (const f of found.rows)
        out.set(`${vendor}\u0000${f.vendor_device_ref}`, {
          tenantId: f.tenant_id,
          deviceId: f.device_id,
          propertyId: f.property_id,
        });
    }
    return out;
  }

  /** Sends what one webhook's facts call for; 'deferred' (by throwing) when the vendor cannot confirm now. */
  private async route(tx: Tx, row: InboxRow, f: WebhookFacts, device: Device): Promise<RouteOutcome> {
    const at = this.d.clock.now().toISOString();
    const messageId = `webhook:${row.vendor}:${row.id}`;
    // Before the row's mark commits (same transaction): a crash re-sends, and the id deduplicates.
    const report = (facts: { battery?: number; online?: boolean }) =>
      this.d.mailbox.send(
        { type: 'lockDevice', id: device.deviceId },
        {
          tenantId: device.tenantId,
          event: { type: 'lockDevice.vendorReport', at, ...facts },
          by: `vendor:${row.vendor}`,
        },
        messageId,
      );
    if (f.report) {
      await report(f.report);
      return 'routed';
    }
    if (f.claimedRecords) {
      const confirmed = await this.confirm(row.vendor, device, f.vendorDeviceRef, f.claimedRecords);
      const latest = confirmed.sort((a, b) => b.at.getTime() - a.at.getTime())[0];
      if (!latest) return 'unconfirmed';
      const opened = confirmed.filter((r) => r.success).sort((a, b) => b.at.getTime() - a.at.getTime())[0];
      await report({
        ...(latest.battery !== null ? { battery: latest.battery } : {}),
        ...(opened ? { accessAt: opened.at.toISOString() } : {}),
      });
      return 'routed';
    }
    if (f.lostCredentialRef) {
      const found = await sql<{ tenant_id: string; credential_id: string; lock_device_id: string }>`
        select * from lock_credential_by_grant(${row.vendor}, ${f.vendorDeviceRef}, ${f.lostCredentialRef})`.execute(
        tx,
      );
      const credential = found.rows[0];
      if (!credential)
        return row.route_attempts + 1 < LOST_CREDENTIAL_ATTEMPTS ? 'deferred' : 'unknown_device';
      const event: CredentialEvent = {
        type: 'credential.grantLost',
        at,
        lockDeviceId: credential.lock_device_id,
        vendorRef: f.lostCredentialRef,
      };
      await this.d.mailbox.send(
        { type: 'credential', id: credential.credential_id },
        { tenantId: credential.tenant_id, event, by: `vendor:${row.vendor}` },
        messageId,
      );
      return 'routed';
    }
    return 'ignored';
  }

  /** The claimed records the vendor's own log also holds (same time, method and result). */
  private async confirm(
    vendor: string,
    device: Device,
    lockRef: string,
    claimed: NonNullable<WebhookFacts['claimedRecords']>,
  ) {
    if (!this.d.adapters) return [];
    const { adapter, breaker } = await this.d.adapters.resolve(device.tenantId, device.propertyId, vendor);
    const times = claimed.map((c) => c.at);
    const held = await breaker.call(() =>
      adapter.listAccessRecords(
        lockRef,
        new Date(Math.min(...times) - RECORD_MATCH_MS),
        new Date(Math.max(...times) + RECORD_MATCH_MS),
      ),
    );
    return held.filter((h) =>
      claimed.some(
        (c) =>
          Math.abs(h.at.getTime() - c.at) <= RECORD_MATCH_MS &&
          h.method === c.method &&
          h.success === c.success,
      ),
    );
  }
}
