/**
 * The ingress's cache of webhook endpoints (`webhookEndpoints.ts` over `refreshingCache.ts`), against real
 * PostgreSQL, counting the endpoint lookups its database runs: ids that match no endpoint are not kept (a
 * flood of made-up ids cannot fill it), an endpoint found is, and setting a new secret is seen at once by
 * the process that set it.
 */
import { describe, expect, it } from 'vitest';
import { createWebhookEndpoints } from '../../src/io/vendors/webhookEndpoints.ts';
import { harnessWithProperty } from '../support/propertyWorld.ts';
import { queryCounter } from '../support/queryCounter.ts';

/** The endpoint lookups (`lock_webhook_endpoint`), started and finished. */
const endpointLookups = () => queryCounter((node) => JSON.stringify(node).includes('lock_webhook_endpoint'));

describe('webhook endpoint cache', () => {
  const world = harnessWithProperty();

  it('keeps endpoints found, not made-up ids, and sees a new secret at once', async () => {
    const lookups = endpointLookups();
    const endpoints = createWebhookEndpoints(
      world.h.service.runtimeDb.withPlugin(lookups),
      world.h.service.vendorSecrets,
    );

    expect(await endpoints.find('made-up-id')).toBeNull();
    expect(await endpoints.find('made-up-id')).toBeNull();
    expect(lookups.started).toBe(2);

    const address = { tenantId: world.tenantId, propertyId: world.propertyId, vendor: 'ttlock' };
    const webhookId = await endpoints.set(address, 'first secret', 'user:test');
    expect(await endpoints.find(webhookId)).toMatchObject({ ...address, webhookId, secret: 'first secret' });
    expect(await endpoints.find(webhookId)).toMatchObject({ secret: 'first secret' });
    expect(lookups.started).toBe(3);

    expect(await endpoints.set(address, 'second secret', 'user:test')).toBe(webhookId);
    expect(await endpoints.find(webhookId)).toMatchObject({ secret: 'second secret' });
    expect(lookups.started).toBe(4);
  });
});
