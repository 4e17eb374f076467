/**
 * `/inspect`: the page and Mermaid served by the gateway (no CDN), and the data it reads with a `lock:read`
 * token — the machines drawn from their definitions, the tenant's actors with state, version and last event,
 * one actor's redacted context and timeline, and the live stream of committed transitions. Another tenant sees
 * none of it; no token, nothing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('/inspect', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let url: string;
  let propertyId: string;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  let read: Record<string, string>;

  const issue = () => gw.issuePin(tenantId, propertyId);

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h, { waitBudgetMs: 5000 });
    url = await gw.app.listen({ port: 0, host: '127.0.0.1' });
    read = { authorization: `Bearer ${await gw.token(tenantId, undefined, ['lock:read'])}` };
    ({ propertyId } = await seedProperty(h.service, tenantId, { '101': '7001' }));
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  it('inspect: the page and its scripts come from the gateway, Mermaid from node_modules', async () => {
    const page = await gw.app.inject({ method: 'GET', url: '/inspect' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('<script src="/inspect/mermaid.min.js">');
    expect(page.body).not.toMatch(/https?:\/\//);
    const mermaid = await gw.app.inject({ method: 'GET', url: '/inspect/mermaid.min.js' });
    expect([mermaid.statusCode, mermaid.body.length > 1_000_000]).toEqual([200, true]);
    const script = await gw.app.inject({ method: 'GET', url: '/inspect/inspect.js' });
    expect(script.body).toContain('/api/v1/inspect/');
  });

  it('inspect: machines drawn from their definitions, the grant machine too; no token, nothing', async () => {
    const r = await gw.app.inject({ method: 'GET', url: '/api/v1/inspect/machines', headers: read });
    expect(r.statusCode, r.body).toBe(200);
    const { machines } = r.json() as { machines: Record<string, string> };
    expect(Object.keys(machines)).toEqual(
      expect.arrayContaining(['credential', 'grant', 'reservation', 'property']),
    );
    expect(machines.credential).toMatch(/^stateDiagram-v2[\s\S]*issuing --> active/);
    expect((await gw.app.inject({ method: 'GET', url: '/api/v1/inspect/machines' })).statusCode).toBe(401);
  });

  it("inspect: a credential's row, its redacted context and its timeline; another tenant sees nothing", async () => {
    const issued = await issue();
    expect(issued.statusCode, issued.body).toBe(201);
    const { id, pin } = issued.json() as { id: string; pin: string };
    const list = await gw.app.inject({
      method: 'GET',
      url: `/api/v1/inspect/actors?type=credential&propertyId=${propertyId}`,
      headers: read,
    });
    expect(list.json().items).toEqual([
      expect.objectContaining({
        type: 'credential',
        id,
        state: 'active',
        version: 2,
        lastEvent: 'effect.done.issueGrant',
      }),
    ]);
    // By state name: a plain state, and none for a state it is not in.
    const byState = async (state: string) =>
      (
        await gw.app.inject({
          method: 'GET',
          url: `/api/v1/inspect/actors?type=credential&state=${state}`,
          headers: read,
        })
      )
        .json()
        .items.map((a: { id: string }) => a.id);
    expect(await byState('active')).toContain(id);
    expect(await byState('revoking')).not.toContain(id);
    const one = await gw.app.inject({
      method: 'GET',
      url: `/api/v1/inspect/actors/credential/${id}`,
      headers: read,
    });
    expect(one.statusCode, one.body).toBe(200);
    const body = one.json();
    expect(body.timeline.map((t: { event: string; to: unknown }) => [t.event, t.to])).toEqual([
      ['credential.issue', 'issuing'],
      ['effect.done.issueGrant', 'active'],
    ]);
    expect(body.context.secret).toBe('[redacted]');
    expect(one.body).not.toContain(`"${pin}"`);
    const stranger = {
      authorization: `Bearer ${await gw.token(`other-${tenantId}`, undefined, ['lock:read'])}`,
    };
    expect(
      (
        await gw.app.inject({
          method: 'GET',
          url: `/api/v1/inspect/actors/credential/${id}`,
          headers: stranger,
        })
      ).statusCode,
    ).toBe(404);
    expect(
      (await gw.app.inject({ method: 'GET', url: '/api/v1/inspect/actors', headers: stranger })).json().items,
    ).toEqual([]);
  });

  it("inspect: the live stream carries the tenant's committed transitions as they happen", async () => {
    const controller = new AbortController();
    const res = await fetch(`${url}/api/v1/inspect/stream`, { headers: read, signal: controller.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const seen: { type: string; id: string; state: unknown; event: string; propertyId?: string }[] = [];
    let buffer = '';
    const issued = issue();
    const { id } = (await issued).json() as { id: string };
    while (!seen.some((n) => n.id === id && n.state === 'active')) {
      const chunk = await reader.read();
      if (chunk.done) break;
      buffer += new TextDecoder().decode(chunk.value);
      const blocks = buffer.split('\n\n');
      buffer = blocks.pop() ?? '';
      for (const b of blocks) if (b.startsWith('data: ')) seen.push(JSON.parse(b.slice(6)));
    }
    controller.abort();
    // Two commits (issuing, then active), or one when its vendor call ran in its turn (a REST issue planned
    // from a context kept from an earlier one: the issue and its answer are one commit).
    const mine = seen.filter((n) => n.id === id);
    expect([
      [
        ['issuing', 'credential.issue'],
        ['active', 'effect.done.issueGrant'],
      ],
      [['active', 'effect.done.issueGrant']],
    ]).toContainEqual(mine.map((n) => [n.state, n.event]));
    // Each names its property: the page's property filter applies to live rows too.
    expect(new Set(mine.map((n) => n.propertyId))).toEqual(new Set([propertyId]));
  });
});
