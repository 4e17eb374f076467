/**
 * The runtime's inspection events in the Stately inspector's protocol, as `@statelyai/inspect` sends them over
 * WebSocket (`INSPECT_WS_URL`) to a local server that decodes them: one REST issuance is, in order, the
 * credential announced with its machine's definition, its issue event and `issuing` snapshot, the vendor's
 * answer (sourced from the credential's own intent) and its `active` snapshot — committed transitions only,
 * with no PIN or secret in any of them.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { freePort, type Harness, startHarness } from '../support/harness.ts';

interface Inspected {
  type: string;
  sessionId: string;
  sourceId?: string;
  event?: { type: string };
  snapshot?: { value: unknown; context?: Record<string, unknown> };
  definition?: string;
}

describe('inspection events to a Stately inspector', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let server: WebSocketServer;
  const raw: string[] = [];
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    const port = await freePort();
    server = new WebSocketServer({ port, host: '127.0.0.1' });
    server.on('connection', (socket) => socket.on('message', (m) => raw.push(m.toString())));
    h = await startHarness({ inspectWsUrl: `ws://127.0.0.1:${port}` });
    gw = await buildTestGateway(h, { waitBudgetMs: 5000 });
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  it('stately: one issuance, decoded in order from the inspector protocol, with nothing secret in it', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '101': '7001' });
    const r = await gw.issuePin(tenantId, propertyId);
    expect(r.statusCode, r.body).toBe(201);
    const { id, pin } = r.json() as { id: string; pin: string };
    const session = `credential/${id}`;
    const of = () => raw.map((m) => JSON.parse(m) as Inspected).filter((m) => m.sessionId === session);
    await expect
      .poll(() => of().map((m) => [m.type, m.event?.type ?? null, (m.snapshot?.value as string) ?? null]), {
        timeout: 10_000,
      })
      .toEqual([
        ['@xstate.actor', null, 'new'],
        ['@xstate.event', 'credential.issue', null],
        ['@xstate.snapshot', 'credential.issue', 'issuing'],
        ['@xstate.event', 'effect.done.issueGrant', null],
        ['@xstate.snapshot', 'effect.done.issueGrant', 'active'],
      ]);
    const [announced, issued, , answered] = of();
    expect(announced?.definition).toContain('"issuing"');
    expect(issued?.sourceId).toBeUndefined(); // a REST caller, not an actor
    expect(answered?.sourceId).toBe(session); // its own vendor call's answer
    // Nothing secret: the PIN never appears, and every secret field is redacted.
    const all = raw.join('\n');
    expect(all).not.toContain(`"${pin}"`);
    const secrets = of().flatMap((m) => [m.snapshot?.context?.secret, m.snapshot?.context?.spareSecrets]);
    expect(secrets.filter((s) => s !== undefined && s !== null && s !== '[redacted]')).toEqual([]);
    // Other actors are inspected too: the property and the lock device the seed made.
    expect(raw.some((m) => m.includes(`"sessionId":"property/${propertyId}"`))).toBe(true);
  });
});
