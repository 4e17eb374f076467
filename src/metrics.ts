/** The service's Prometheus metrics, in one registry the gateway serves at /metrics. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Per-property labels, bounded: the first `max` (tenant, property) pairs seen keep their own series, every
 * later one counts under `other`, so a platform of thousands of properties cannot blow up the series count.
 * A property keeps its label for the process's life (a pair is never evicted: its series would jump).
 */
export function boundedPropertyLabels(max: number) {
  const kept = new Set<string>();
  return (tenant: string, property: string): { tenant: string; property: string } => {
    const key = `${tenant}\u0000${property}`;
    if (kept.has(key)) return { tenant, property };
    if (kept.size < max) {
      kept.add(key);
      return { tenant, property };
    }
    return { tenant: 'other', property: 'other' };
  };
}

export function createMetrics(options: { defaultMetrics?: boolean; propertySeries?: number } = {}) {
  const registry = new Registry();
  const propertyLabels = boundedPropertyLabels(options.propertySeries ?? 200);
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    propertyLabels,
    transitions: new Counter({
      name: 'lock_actor_transitions_total',
      help: 'Committed actor transitions',
      labelNames: ['type', 'status'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'lock_actor_messages_rejected_total',
      help: 'Actor messages rejected with a reason',
      labelNames: ['code'],
      registers: [registry],
    }),
    activations: new Histogram({
      name: 'lock_actor_activation_seconds',
      help: 'Time to activate an actor (snapshot load)',
      labelNames: ['found'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25],
      registers: [registry],
    }),
    commitBatch: new Histogram({
      name: 'lock_commit_batch_size',
      help: 'Actor commits per PostgreSQL transaction',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    }),
    commitSeconds: new Histogram({
      name: 'lock_commit_batch_seconds',
      help: 'Duration of one group-commit transaction',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
    effects: new Histogram({
      name: 'lock_vendor_call_seconds',
      help: 'Vendor intent executions by vendor, intent and outcome',
      labelNames: ['vendor', 'intent', 'outcome'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 4],
      registers: [registry],
    }),
    breaker: new Gauge({
      name: 'lock_vendor_circuit_open',
      help: '1 while the vendor circuit breaker is open',
      labelNames: ['vendor'],
      registers: [registry],
    }),
    restIssues: new Counter({
      name: 'lock_rest_issues_total',
      help: 'REST issues sent, by way: journaled by their idempotency claim (planned from a kept context) or planned after it',
      labelNames: ['way'],
      registers: [registry],
    }),
    outboxPublished: new Counter({
      name: 'lock_outbox_published_total',
      help: 'Domain events published from the outbox',
      registers: [registry],
    }),
    ownedPartitions: new Gauge({
      name: 'lock_partitions_owned',
      help: 'Actor partitions this process owns',
      registers: [registry],
    }),
    webhooksStored: new Counter({
      name: 'lock_webhooks_total',
      help: 'Verified vendor webhooks by vendor and result (stored, duplicate)',
      labelNames: ['vendor', 'result'],
      registers: [registry],
    }),
    webhooksRefused: new Counter({
      name: 'lock_webhooks_refused_total',
      help: 'Vendor webhooks refused, by vendor (unknown for a path no vendor owns) and reason (unauthenticated, malformed, too_large, rate_limited, unknown_vendor, failed)',
      labelNames: ['vendor', 'reason'],
      registers: [registry],
    }),
    platformEvents: new Counter({
      name: 'lock_platform_events_total',
      help: 'Platform events consumed, by event and outcome (forwarded, ignored, rejected, pending)',
      labelNames: ['event', 'outcome'],
      registers: [registry],
    }),
    webhooksRouted: new Counter({
      name: 'lock_webhooks_routed_total',
      help: 'Stored webhooks routed, by vendor and outcome (routed, ignored, unknown_device, unconfirmed, deferred)',
      labelNames: ['vendor', 'outcome'],
      registers: [registry],
    }),
    revokeStalled: new Counter({
      name: 'lock_credential_revoke_stalled_total',
      help: 'Credentials whose revoke the vendor has not confirmed after its attempts (still retried)',
      registers: [registry],
    }),
    credentialOutcomes: new Counter({
      name: 'lock_credential_outcomes_total',
      help: 'Credentials reaching an outcome: issued, failed (never issued), revoked, expired',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    issueSeconds: new Histogram({
      name: 'lock_credential_issue_seconds',
      help: 'From the issue request to the credential active on every lock',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    revokeSeconds: new Histogram({
      name: 'lock_credential_revoke_seconds',
      help: 'From the revoke (or expiry) to the credential gone from every lock',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    residentActors: new Gauge({
      name: 'lock_actors_resident',
      help: 'Actors resident in memory',
      registers: [registry],
    }),
    propertyOutcomes: new Counter({
      name: 'lock_property_credential_outcomes_total',
      help: 'Credentials reaching an outcome, per tenant and property (the first properties seen; the rest as "other")',
      labelNames: ['tenant', 'property', 'outcome'],
      registers: [registry],
    }),
    probeUp: new Gauge({
      name: 'lock_vendor_probe_up',
      help: "Share of a vendor's configured adapters that passed a read-only check in the last probe run",
      labelNames: ['vendor', 'check'],
      registers: [registry],
    }),
    probeSeconds: new Histogram({
      name: 'lock_vendor_probe_seconds',
      help: 'How long a read-only vendor check took',
      labelNames: ['vendor', 'check'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    probeFailures: new Counter({
      name: 'lock_vendor_probe_failures_total',
      help: 'Read-only vendor checks that failed, by normalized failure',
      labelNames: ['vendor', 'check', 'failure'],
      registers: [registry],
    }),
    probeAdapters: new Gauge({
      name: 'lock_vendor_probe_adapters',
      help: 'Distinct vendor adapters the last completed probe run checked (0: none configured, or none visible)',
      registers: [registry],
    }),
    probeLastRun: new Gauge({
      name: 'lock_vendor_probe_last_run_timestamp_seconds',
      help: 'When this process last completed a vendor probe run (it runs where partition 0 is owned)',
      registers: [registry],
    }),
  };
  // Every outcome counted from the start, at 0: a service that has only ever failed still has an issued series
  // for the success ratio to read (a rule over a missing series never alerts).
  for (const outcome of ['issued', 'failed', 'revoked', 'expired']) m.credentialOutcomes.inc({ outcome }, 0);
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
