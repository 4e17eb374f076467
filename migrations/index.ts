/** Every migration, in order. A new migration is a new file here and a new line below; never edit one. */
import type { Migration } from 'kysely';
import * as initial from './2026-11-22T0001_initial.ts';
import * as oneRoundTrip from './2026-11-22T0002_one_round_trip_paths.ts';
import * as webhookInbox from './2026-11-22T0003_webhook_inbox.ts';
import * as webhookRouting from './2026-11-22T0004_webhook_routing.ts';
import * as vendorCallbacks from './2026-11-22T0005_vendor_callbacks.ts';
import * as postgresOnlyRecord from './2026-11-30T0006_postgres_only_record.ts';
import * as batchedIssueContext from './2026-11-30T0007_batched_issue_context.ts';
import * as vendorSecrets from './2026-11-30T0008_vendor_secrets.ts';
import * as auditHeadDefiner from './2026-11-30T0009_audit_head_definer.ts';
import * as webhookEndpoints from './2026-11-30T0010_webhook_endpoints.ts';
import * as dropCrossTenantLookups from './2026-11-30T0011_drop_cross_tenant_lookups.ts';
import * as rotatingVendorSecrets from './2026-11-30T0012_rotating_vendor_secrets.ts';
import * as credentialRoomsFollow from './2026-11-30T0013_credential_rooms_follow.ts';
import * as pinReads from './2026-11-30T0014_pin_reads.ts';
import * as retireVendorAccess from './2026-11-30T0015_retire_vendor_access.ts';
import * as desktopAgents from './2026-11-30T0016_desktop_agents.ts';
import * as offlineCertificates from './2026-11-30T0017_offline_certificates.ts';
import * as offlineReconciliation from './2026-11-30T0018_offline_reconciliation.ts';
import * as inspectorTimeline from './2026-11-30T0019_inspector_timeline.ts';
import * as traceContext from './2026-11-30T0020_trace_context.ts';
import * as vendorProbe from './2026-11-30T0021_vendor_probe.ts';
import * as inspectorActorList from './2026-11-30T0022_inspector_actor_list.ts';
import * as batchedRequestCalls from './2026-11-30T0023_batched_request_calls.ts';
import * as inProcessOnce from './2026-11-30T0024_in_process_once.ts';
import * as outboxRelayPass from './2026-11-30T0025_outbox_relay_pass.ts';
import * as auditAtBatchEnd from './2026-11-30T0026_audit_at_batch_end.ts';
import * as timersToTheMillisecond from './2026-11-30T0027_timers_to_the_millisecond.ts';
import * as mergedTransitions from './2026-12-01T0028_merged_transitions.ts';
import * as schemaCheck from './2026-12-01T0029_schema_check.ts';
import * as issueClaims from './2026-12-01T0030_issue_claims.ts';
import * as issueContextPlanKept from './2026-12-01T0031_issue_context_plan_kept.ts';
import * as plansByKey from './2026-12-02T0032_plans_by_key.ts';
import * as auditAppendedPerBatch from './2026-12-02T0033_audit_appended_per_batch.ts';
import * as issueContextsPlanKept from './2026-12-02T0034_issue_contexts_plan_kept.ts';
import * as storesNeverWait from './2026-12-02T0035_stores_never_wait.ts';

export const migrations: Record<string, Migration> = {
  '2026-11-22T0001_initial': initial,
  '2026-11-22T0002_one_round_trip_paths': oneRoundTrip,
  '2026-11-22T0003_webhook_inbox': webhookInbox,
  '2026-11-22T0004_webhook_routing': webhookRouting,
  '2026-11-22T0005_vendor_callbacks': vendorCallbacks,
  '2026-11-30T0006_postgres_only_record': postgresOnlyRecord,
  '2026-11-30T0007_batched_issue_context': batchedIssueContext,
  '2026-11-30T0008_vendor_secrets': vendorSecrets,
  '2026-11-30T0009_audit_head_definer': auditHeadDefiner,
  '2026-11-30T0010_webhook_endpoints': webhookEndpoints,
  '2026-11-30T0011_drop_cross_tenant_lookups': dropCrossTenantLookups,
  '2026-11-30T0012_rotating_vendor_secrets': rotatingVendorSecrets,
  '2026-11-30T0013_credential_rooms_follow': credentialRoomsFollow,
  '2026-11-30T0014_pin_reads': pinReads,
  '2026-11-30T0015_retire_vendor_access': retireVendorAccess,
  '2026-11-30T0016_desktop_agents': desktopAgents,
  '2026-11-30T0017_offline_certificates': offlineCertificates,
  '2026-11-30T0018_offline_reconciliation': offlineReconciliation,
  '2026-11-30T0019_inspector_timeline': inspectorTimeline,
  '2026-11-30T0020_trace_context': traceContext,
  '2026-11-30T0021_vendor_probe': vendorProbe,
  '2026-11-30T0022_inspector_actor_list': inspectorActorList,
  '2026-11-30T0023_batched_request_calls': batchedRequestCalls,
  '2026-11-30T0024_in_process_once': inProcessOnce,
  '2026-11-30T0025_outbox_relay_pass': outboxRelayPass,
  '2026-11-30T0026_audit_at_batch_end': auditAtBatchEnd,
  '2026-11-30T0027_timers_to_the_millisecond': timersToTheMillisecond,
  '2026-12-01T0028_merged_transitions': mergedTransitions,
  '2026-12-01T0029_schema_check': schemaCheck,
  '2026-12-01T0030_issue_claims': issueClaims,
  '2026-12-01T0031_issue_context_plan_kept': issueContextPlanKept,
  '2026-12-02T0032_plans_by_key': plansByKey,
  '2026-12-02T0033_audit_appended_per_batch': auditAppendedPerBatch,
  '2026-12-02T0034_issue_contexts_plan_kept': issueContextsPlanKept,
  '2026-12-02T0035_stores_never_wait': storesNeverWait,
};
