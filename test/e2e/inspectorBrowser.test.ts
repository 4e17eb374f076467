/**
 * The inspector in a real browser (playwright-core driving Debian's Chromium): open `/inspect` with a
 * read-only token, issue a credential through REST while TTLock answers slowly, see its row appear live, open it
 * and watch its machine's highlighted state move from `issuing` to `active`, with its timeline. With
 * `INSPECT_SCREENSHOT=1` the page is saved as `docs/inspector.png` (the README shows it).
 */
import { randomUUID } from 'node:crypto';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotentCredentialId } from '../../src/ids.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('the inspector in a browser', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let browser: Browser;
  let url: string;
  let propertyId: string;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    // A vendor slow enough to watch (2.5 s a call), and an effect timeout above it.
    h = await startHarness({ effectTimeoutMs: 10_000 });
    gw = await buildTestGateway(h, { waitBudgetMs: 10_000 });
    url = await gw.app.listen({ port: 0, host: '127.0.0.1' });
    ({ propertyId } = await seedProperty(h.service, tenantId, { '101': '7001' }));
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await gw?.app.close();
    await h?.close();
  });

  it('inspector: a credential appears live and moves issuing → active on its graph, with its timeline', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    const readToken = await gw.token(tenantId, undefined, ['lock:read']);
    await page.goto(`${url}/inspect#token=${readToken}`);
    await page.locator('#actors').waitFor();
    // The token left the address bar once read.
    expect(page.url()).toBe(`${url}/inspect`);

    h.ttlock.setFaults({ latencyMs: 2500 });
    const key = randomUUID();
    const id = idempotentCredentialId(tenantId, key);
    const issued = gw.issuePin(tenantId, propertyId, { idempotencyKey: key });
    const row = page.locator(`tr[data-key="credential/${id}"]`);
    await expect.poll(() => row.locator('td.state').textContent(), { timeout: 10_000 }).toBe('issuing');
    await row.click();
    const graph = page.locator('#graph');
    await expect.poll(() => graph.getAttribute('data-current'), { timeout: 10_000 }).toBe('issuing');
    expect(await graph.locator('svg').count()).toBe(1);
    await expect.poll(() => graph.getAttribute('data-current'), { timeout: 15_000 }).toBe('active');
    expect((await issued).statusCode).toBe(201);
    await expect
      .poll(() =>
        page.locator('#timeline tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event'))),
      )
      .toEqual(['credential.issue', 'effect.done.issueGrant']);
    // The grant machine below it, its grant highlighted too.
    await expect.poll(() => page.locator('#grant-graph').getAttribute('data-current')).toBe('issued');
    expect(await page.locator('#context').textContent()).toContain('[redacted]');
    if (process.env.INSPECT_SCREENSHOT === '1')
      await page.screenshot({ path: 'docs/inspector.png', fullPage: true });
    expect(problems).toEqual([]);
    h.ttlock.setFaults({ latencyMs: 0 });
  }, 60_000);
});
