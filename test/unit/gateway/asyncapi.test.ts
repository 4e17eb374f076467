/**
 * `/asyncapi.json` and `/asyncapi`: the document as generated, with the service's version, and a page that
 * runs nothing, allows only its own style, escapes every text and lists each message's fields.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { type AsyncApiDocument, buildAsyncApi } from '../../../src/contracts/index.ts';
import { renderAsyncApiPage } from '../../../src/gateway/asyncapi/page.ts';
import { schemaFields } from '../../../src/gateway/asyncapi/schemaFields.ts';
import { asyncapiRoutes } from '../../../src/gateway/routes/asyncapi.ts';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

describe('asyncapi routes', () => {
  let app: ReturnType<typeof Fastify> | undefined;
  afterEach(async () => {
    await app?.close();
  });
  const serve = async (doc?: () => AsyncApiDocument) => {
    app = Fastify();
    await app.register(asyncapiRoutes(doc));
    return app;
  };

  it("asyncapi routes: /asyncapi.json is the generated document, with the service's version", async () => {
    const r = await (await serve()).inject({ url: '/asyncapi.json' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json()).toEqual(JSON.parse(JSON.stringify(buildAsyncApi(version))));
  });

  it('asyncapi routes: /asyncapi is a page with no script, whose only allowed style is its own', async () => {
    const r = await (await serve()).inject({ url: '/asyncapi' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.body).not.toMatch(/<script/i);
    const style = /<style>([\s\S]*?)<\/style>/.exec(r.body)?.[1] ?? '';
    const hash = createHash('sha256').update(style).digest('base64');
    expect(r.headers['content-security-policy']).toBe(
      `default-src 'none'; style-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    expect(r.body).toContain('<code>melmastoon.lock.key_credential.issued.v1</code>');
    expect(r.body).toContain('<code>data.grants[].vendorRef</code>');
  });

  it('asyncapi routes: every text on the page is escaped', async () => {
    const doc = buildAsyncApi('1');
    doc.info.description = '<img src=x onerror=alert(1)>';
    const first = Object.values(doc.channels)[0];
    if (first) first.description = '"><script>alert(2)</script>';
    const html = renderAsyncApiPage(doc);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&quot;&gt;&lt;script&gt;');
  });
});

describe('asyncapi page: schema fields', () => {
  it("asyncapi page: a payload's fields are listed by path, type and whether required", () => {
    const doc = buildAsyncApi('1');
    const rows = schemaFields(doc.components.messages['key_credential.updated.v1']?.payload ?? {});
    expect(rows).toContainEqual({ name: 'data.grants[].vendorRef', type: 'string | null', required: true });
    expect(rows).toContainEqual(
      expect.objectContaining({ name: 'data.newPins', type: 'object[]', required: false }),
    );
    expect(rows).toContainEqual({ name: 'occurredAt', type: 'string (date-time)', required: true });
  });

  it("asyncapi page: an actor's events are listed each under its type", () => {
    const doc = buildAsyncApi('1');
    const rows = schemaFields(doc.components.messages['actor.credential']?.payload ?? {});
    expect(rows).toContainEqual(
      expect.objectContaining({ name: 'event', type: 'one of 14 (by type, below)' }),
    );
    expect(rows).toContainEqual({ name: 'event[credential.revoke].reason', type: 'string', required: true });
  });
});
