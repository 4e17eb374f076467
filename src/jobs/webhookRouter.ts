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
  /** The endpoint's tenant and property, stored with the webhook (null on rows of the old per-vendor route). */
  tenant_id: string | null;
  property_id: string | null;
}

function factsOf(row: InboxRow): WebhookFacts | null {
  try {
    return webhookFacts(row.vendor, row.body);
  } catch {
    return null;
  }
}

const deviceKey = (row: InboxRow, ref: string) =>
  `${row.tenant_id}\u0000${row.property_id}\u0000${row.vendor}\u0000${ref}`;

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
        returning id, vendor, body, route_attempts, tenant_id, property_id`.execute(tx);
      if (claimed.rows.length === 0) return 0;
      const rows = claimed.rows.sort((x, y) => Number(BigInt(x.id) - BigInt(y.id)));
      // A stored body is the vendor's (or a tenant's own endpoint's) word: one that the facts reader cannot
      // make sense of is ignored, never allowed to fail the batch (which would claim it again, for ever).
      const facts = rows.map((row) => ({ row, facts: factsOf(row) }));
      const devices = await this.devicesOf(
        tx,
        facts.flatMap((x) => (x.facts ? [{ row: x.row, ref: x.facts.vendorDeviceRef }] : [])),
      );
      const deferred: string[] = [];
      for (const { row, facts: f } of facts) {
        const device = f ? devices.get(deviceKey(row, f.vendorDeviceRef)) : undefined;
        let outcome: RouteOutcome;
        // A row stored before endpoints had tenants (the old per-vendor route) is not trusted with routing.
        if (!f || row.tenant_id === null || row.property_id === null) outcome = 'ignored';
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
        this.d.onRouted?.(row.vendor, outcome);
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

  /** The devices the rows name, each looked up only in its own webhook's tenant and property. */
  private async devicesOf(tx: Tx, refs: { row: InboxRow; ref: string }[]): Promise<Map<string, Device>> {
    const out = new Map<string, Device>();
    const groups = new Map<
      string,
      { tenantId: string; propertyId: string; vendor: string; refs: string[] }
    >();
    for (const { row, ref } of refs) {
      if (row.tenant_id === null || row.property_id === null) continue;
      const key = `${row.tenant_id}\u0000${row.property_id}\u0000${row.vendor}`;
      const g = groups.get(key) ?? {
        tenantId: row.tenant_id,
        propertyId: row.property_id,
        vendor: row.vendor,
        refs: [],
      };
      g.refs.push(ref);
      groups.set(key, g);
    }
    for (const g of groups.values()) {
      const found = await sql<{ device_id: string; vendor_device_ref: string }>`
        select * from lock_device_routes_in(${g.tenantId}, ${g.propertyId}, ${g.vendor}, ${g.refs}::text[])`.execute(
        tx,
      );
      for (const f of found.rows)
        out.set(`${g.tenantId}\u0000${g.propertyId}\u0000${g.vendor}\u0000${f.vendor_device_ref}`, {
          tenantId: g.tenantId,
          deviceId: f.device_id,
          propertyId: g.propertyId,
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
      const found = await sql<{ credential_id: string; lock_device_id: string }>`
        select * from lock_credential_by_grant_in(${device.tenantId}, ${device.propertyId}, ${row.vendor},
          ${f.vendorDeviceRef}, ${f.lostCredentialRef})`.execute(tx);
      const credential = found.rows[0];
      if (!credential)
        return row.route_attempts + 1 < LOST_CREDENTIAL_ATTEMPTS ? 'deferred' : 'unknown_device';
      // A notice is a claim (TTLock's are unsigned): the vendor's API must say the credential is gone from
      // the lock before the credential revokes and issues again; one it still holds is a false notice.
      if (await this.stillHeld(row.vendor, device, f.vendorDeviceRef, f.lostCredentialRef))
        return 'unconfirmed';
      const event: CredentialEvent = {
        type: 'credential.grantLost',
        at,
        lockDeviceId: credential.lock_device_id,
        vendorRef: f.lostCredentialRef,
      };
      await this.d.mailbox.send(
        { type: 'credential', id: credential.credential_id },
        { tenantId: device.tenantId, event, by: `vendor:${row.vendor}` },
        messageId,
      );
      return 'routed';
    }
    return 'ignored';
  }

  /** Whether the vendor still holds the credential on the lock (vendors that can tell; others: not held). */
  private async stillHeld(
    vendor: string,
    device: Device,
    lockRef: string,
    vendorRef: string,
  ): Promise<boolean> {
    if (!this.d.adapters) return false;
    const { adapter, breaker } = await this.d.adapters.resolve(device.tenantId, device.propertyId, vendor);
    const present = adapter.credentialPresent;
    if (!present) return false;
    return breaker.call(() => present.call(adapter, lockRef, vendorRef));
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
