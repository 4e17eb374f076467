/**
 * What the gateway logs, read from the production logger's output: one line per request with its path
 * and status, and nothing secret — not TTLock's callback token (it travels in the query), not a
 * passcode in a callback body, not a bearer token. Accepted webhooks are not logged at info.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('gateway log', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let ttlockToken: string;
  let webhookPath: string;
  const lines: Record<string, unknown>[] = [];
  let raw = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw += chunk.toString();
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h, { logger: createLogger('info', sink) });
    // The endpoint is set up without a request, so that the log holds only the requests below.
    ttlockToken = randomBytes(24).toString('base64url');
    const a = { tenantId: 'log-tenant', propertyId: randomUUID(), vendor: 'ttlock' };
    webhookPath = `/webhooks/v1/ttlock/${await h.service.webhookEndpoints.set(a, ttlockToken, 'user:test')}`;
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  const requestLines = () => lines.filter((l) => l.msg === 'request');

  it('logs one line per request by path and status; no callback token, passcode or bearer token', async () => {
    const passcode = String(100000 + (randomBytes(3).readUIntBE(0, 3) % 900000));
    const records = JSON.stringify([{ recordType: 4, keyboardPwd: passcode, lockDate: Date.now() }]);
    const body = `lockId=7001&notifyType=1&records=${encodeURIComponent(records)}&n=${randomUUID()}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const accepted = await gw.app.inject({
      method: 'POST',
      url: `${webhookPath}?token=${ttlockToken}`,
      payload: body,
      headers: form,
    });
    const refused = await gw.app.inject({
      method: 'POST',
      url: `${webhookPath}?token=${ttlockToken.slice(1)}x`,
      payload: body,
      headers: form,
    });
    const token = await gw.token('log-tenant');
    const api = await gw.app.inject({
      method: 'GET',
      url: `/api/v1/key-credentials/${randomUUID()}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect([accepted.statusCode, refused.statusCode, api.statusCode]).toEqual([200, 401, 404]);

    for (const secret of [ttlockToken, ttlockToken.slice(1), passcode, token])
      expect(raw).not.toContain(secret);
    // The accepted webhook is counted by metrics, not logged at info; the other two are, once each.
    expect(requestLines().map((l) => [l.method, l.path, l.status])).toEqual([
      ['POST', webhookPath, 401],
      ['GET', expect.stringMatching(/^\/api\/v1\/key-credentials\//), 404],
    ]);
  });
});
