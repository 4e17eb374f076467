/**
 * What a platform service receives on `melmastoon.lock.>` matches the AsyncAPI document: a lock registered, a
 * PIN issued and revoked through the gateway, each event taken off NATS is checked against its schema in the
 * document (and by the producer's closed check), and carries `Nats-Msg-Id` = its eventId. The gateway serves
 * the document without a token, outside the OpenAPI description.
 */
import { randomUUID } from 'node:crypto';
import type { Subscription } from '@nats-io/transport-node';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAsyncApi, publishedEventProblem } from '../../src/contracts/index.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

interface Received {
  subject: string;
  msgId: string | undefined;
  payload: Record<string, unknown>;
}

describe('published events on NATS', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let sub: Subscription;
  const received: Received[] = [];
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  const doc = buildAsyncApi('test');

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h, { waitBudgetMs: 5000 });
    // Core NATS sees what the outbox relay publishes into LOCK_EVENTS, as a platform subscriber would.
    sub = h.service.nc.subscribe(`${h.service.topology.eventsRoot}.>`);
    void (async () => {
      for await (const m of sub)
        received.push({
          subject: m.subject,
          msgId: m.headers?.get('Nats-Msg-Id'),
          payload: m.json<Record<string, unknown>>(),
        });
    })();
  });
  afterAll(async () => {
    sub?.unsubscribe();
    await gw?.app.close();
    await h?.close();
  });

  /** The subject as the document names it: the test's prefix taken off the events root. */
  const documented = (subject: string) =>
    subject.slice(h.service.topology.eventsRoot.length - 'melmastoon.lock'.length);

  it('published events: register, issue and revoke publish events the document describes', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, {});
    const auth = { authorization: `Bearer ${await gw.token(tenantId)}` };
    const device = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/lock-devices',
      headers: auth,
      payload: { propertyId, roomId: '101', vendor: 'ttlock', vendorDeviceRef: '7001' },
    });
    expect(device.statusCode, device.body).toBe(201);
    const issued = await gw.issuePin(tenantId, propertyId);
    expect(issued.statusCode, issued.body).toBe(201);
    const revoked = await gw.app.inject({
      method: 'POST',
      url: `/api/v1/key-credentials/${issued.json<{ id: string }>().id}/revoke`,
      headers: auth,
      payload: { reason: 'checked out' },
    });
    expect(revoked.statusCode, revoked.body).toBeLessThan(300);

    const wanted = [
      'lock_device.registered',
      'key_credential.requested',
      'key_credential.issued',
      'key_credential.revoked',
    ];
    const mine = () => received.filter((r) => r.payload.tenantId === tenantId);
    await eventually(
      async () =>
        wanted.every((w) => mine().some((r) => r.subject.endsWith(`.${w}.v1`))) ? true : undefined,
      20_000,
      `events ${wanted.join(', ')}`,
    );

    for (const r of mine()) {
      const channel = doc.channels[documented(r.subject)];
      expect(channel?.subscribe, r.subject).toBeDefined();
      const ref = channel?.subscribe?.message;
      const name = ref && '$ref' in ref ? ref.$ref.replace('#/components/messages/', '') : '';
      const schema = Compile(doc.components.messages[name]?.payload as TSchema);
      expect(
        schema.Check(r.payload),
        `${r.subject}: ${JSON.stringify([...schema.Errors(r.payload)][0])}`,
      ).toBe(true);
      expect(publishedEventProblem(r.subject, r.payload)).toBeNull();
      expect(r.msgId).toBe(r.payload.eventId);
    }
    const issuedEvent = mine().find((r) => r.subject.endsWith('.key_credential.issued.v1'));
    expect(issuedEvent?.payload.data).toMatchObject({ status: 'active', grants: [{ vendor: 'ttlock' }] });
    const revokedEvent = mine().find((r) => r.subject.endsWith('.key_credential.revoked.v1'));
    expect(revokedEvent?.payload.data).toEqual({ status: 'revoked', reason: 'checked out' });
  });

  it('published events: the gateway serves the document without a token, outside OpenAPI', async () => {
    const json = await gw.app.inject({ url: '/asyncapi.json' });
    expect(json.statusCode).toBe(200);
    expect(Object.keys(json.json<{ channels: object }>().channels)).toContain(
      'melmastoon.lock.key_credential.issued.v1',
    );
    const page = await gw.app.inject({ url: '/asyncapi' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/^default-src 'none'/);
    const openapi = await gw.app.inject({ url: '/openapi.json' });
    expect(
      Object.keys(openapi.json<{ paths: object }>().paths).filter((p) => p.includes('asyncapi')),
    ).toEqual([]);
  });
});
