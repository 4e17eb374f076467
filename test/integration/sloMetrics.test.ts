/**
 * The SLO measures the operator's rules read (`ops/prometheus`): a credential issued and revoked through REST
 * counts one `issued` and one `revoked` outcome, with its issue and revoke durations observed.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('SLO metrics', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const m = (await h.service.metrics.registry.getMetricsAsJSON()).find(
      (x) => x.name === name.replace(/_count$/, ''),
    );
    const v = m?.values.find(
      (x) =>
        (!name.endsWith('_count') || (x as { metricName?: string }).metricName === name) &&
        Object.entries(labels).every(([k, l]) => x.labels[k] === l),
    );
    return v?.value ?? 0;
  };

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h, { waitBudgetMs: 5000 });
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  it('slo: an issue and a revoke are counted and timed', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '101': '7001' });
    const auth = { authorization: `Bearer ${await gw.token(tenantId)}` };
    const issued = await gw.issuePin(tenantId, propertyId);
    expect(issued.statusCode, issued.body).toBe(201);
    expect(await value('lock_credential_outcomes_total', { outcome: 'issued' })).toBe(1);
    expect(await value('lock_credential_issue_seconds_count')).toBe(1);
    // The same outcome under the property's own labels (the per-property dashboard row).
    expect(
      await value('lock_property_credential_outcomes_total', {
        tenant: tenantId,
        property: propertyId,
        outcome: 'issued',
      }),
    ).toBe(1);
    const revoked = await gw.app.inject({
      method: 'POST',
      url: `/api/v1/key-credentials/${issued.json().id}/revoke`,
      headers: auth,
      payload: { reason: 'checked out' },
    });
    expect(revoked.statusCode, revoked.body).toBeLessThan(300);
    await expect.poll(() => value('lock_credential_outcomes_total', { outcome: 'revoked' })).toBe(1);
    expect(await value('lock_credential_revoke_seconds_count')).toBe(1);
    expect(await value('lock_credential_outcomes_total', { outcome: 'failed' })).toBe(0);
  });
});
