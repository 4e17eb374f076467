/**
 * Whatever a vendor (or anything at its URL: a proxy's HTML error page, a truncated body, another API)
 * answers, every adapter ends a call with a result or one of the port's normalized failures (VendorError,
 * naming the vendor), never a TypeError that would reach a REST caller as a 500. A fast-check property per
 * adapter, built as the service builds it (the registry's factories), against a local server that answers
 * each call with a random status, content type and body.
 */
import { randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/ids.ts';
import { type LockAdapter, VendorError } from '../../src/io/vendors/port.ts';
import { adapterFactories } from '../../src/io/vendors/registry.ts';
import { SALTO_KS_SIM_DEFAULTS } from '../../src/io/vendors/saltoKs/index.ts';
import { SALTO_SPACE_SIM_DEFAULTS } from '../../src/io/vendors/saltoSpace/index.ts';
import { TTLOCK_SIM_DEFAULTS } from '../../src/io/vendors/ttlock/index.ts';
import { createCertificateAuthority, issueCertificate } from '../../src/io/vendors/vostio/certificates.ts';

interface Answer {
  status: number;
  type: string;
  body: string;
}

const answer: fc.Arbitrary<Answer> = fc.record({
  status: fc.constantFrom(200, 200, 200, 201, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503),
  type: fc.constantFrom('application/json', 'text/html', 'text/plain', 'application/xml', 'text/xml'),
  body: fc.oneof(
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.constantFrom(
      '',
      '{}',
      '[]',
      'null',
      '{"list":[{"lockId":',
      '<html><body><h1>502 Bad Gateway</h1></body></html>',
      '{"errcode":0}',
      '{"errcode":-3,"errmsg":"x"}',
      '{"items":[{}]}',
      '{"access_code":{}}',
      '{"devices":[{"device_id":null}]}',
      '<?xml version="1.0"?><RequestResponse><Params/></RequestResponse>',
      '<?xml version="1.0"?><RequestResponse><Exception><Code>x</Code></Exception></RequestResponse>',
      '<RequestResponse><Params><',
    ),
    fc
      .record({ list: fc.array(fc.object(), { maxLength: 3 }), pages: fc.anything() })
      .map((v) => JSON.stringify(v)),
  ),
});

type Call = (a: LockAdapter) => Promise<unknown>;
const window = { validFrom: new Date('2026-12-01T14:00:00Z'), validUntil: new Date('2026-12-03T11:00:00Z') };
const calls: Record<string, Call> = {
  listLocks: (a) => a.listLocks(),
  getLock: (a) => a.getLock('7001'),
  issue: (a) =>
    a.issueCredential({
      operationId: randomUUID(),
      lockRef: '7001',
      kind: 'pin',
      pin: '482913',
      lookupFirst: true,
      ...window,
    }),
  modify: (a) =>
    a.modifyValidity({
      issueOperationId: randomUUID(),
      lockRef: '7001',
      kind: 'pin',
      vendorRef: '11',
      ...window,
    }),
  revoke: (a) =>
    a.revokeCredential({ issueOperationId: randomUUID(), lockRef: '7001', kind: 'pin', vendorRef: '11' }),
  revokeUnknownRef: (a) =>
    a.revokeCredential({ issueOperationId: randomUUID(), lockRef: '7001', kind: 'pin', vendorRef: null }),
  battery: (a) => a.getBattery('7001'),
  records: (a) => a.listAccessRecords('7001', window.validFrom, window.validUntil),
  health: (a) => a.health(),
};

describe('vendors answering garbage', () => {
  let current: Answer = { status: 200, type: 'application/json', body: '{}' };
  const respond = (_req: IncomingMessage, res: ServerResponse) => {
    _req.resume();
    _req.on('end', () => {
      res.writeHead(current.status, { 'content-type': current.type });
      res.end(current.body);
    });
  };
  let http: Server;
  let https: Server;
  let base: string;
  let tlsBase: string;
  let tls: { ca: string; cert: string; key: string };

  beforeAll(async () => {
    http = createHttpServer(respond);
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const ca = createCertificateAuthority('garbage test CA');
    const server = issueCertificate(ca, 'garbage-server', 'server');
    const client = issueCertificate(ca, 'garbage-client', 'client');
    https = createHttpsServer(
      {
        key: server.keyPem,
        cert: server.certPem,
        ca: ca.certPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      respond,
    );
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    tlsBase = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
    tls = { ca: ca.certPem, cert: client.certPem, key: client.keyPem };
  });
  afterAll(async () => {
    await new Promise<void>((r) => http.close(() => r()));
    await new Promise<void>((r) => https.close(() => r()));
  });

  const configs = (): Record<string, Record<string, unknown>> => ({
    ttlock: { baseUrl: base, ...TTLOCK_SIM_DEFAULTS },
    'salto-ks': { baseUrl: base, identityUrl: base, ...SALTO_KS_SIM_DEFAULTS },
    'salto-space': { baseUrl: base, ...SALTO_SPACE_SIM_DEFAULTS },
    seam: { endpoint: base, apiKey: 'seam_garbage_key' },
    vostio: {
      baseUrl: tlsBase,
      siteId: 'site-1',
      encoderId: 'enc-1',
      ca: tls.ca,
      clientCert: tls.cert,
      clientKey: tls.key,
    },
  });

  for (const vendor of ['ttlock', 'salto-ks', 'salto-space', 'seam', 'vostio'])
    it(`garbage: ${vendor} ends every call with a result or a normalized vendor failure`, async () => {
      const factory = adapterFactories({ clock: systemClock, timeoutMs: 1000 })[vendor];
      if (!factory) throw new Error(`no factory for ${vendor}`);
      const config = configs()[vendor] ?? {};
      await fc.assert(
        fc.asyncProperty(answer, fc.constantFrom(...Object.keys(calls)), async (a, name) => {
          current = a;
          // A fresh adapter per run: no token or session cached from an earlier answer.
          const adapter = factory(config);
          try {
            await calls[name]?.(adapter);
          } catch (e) {
            expect(
              e,
              `${vendor} ${name} on ${a.status} ${a.type} ${a.body.slice(0, 80)}: ${String(e)}`,
            ).toBeInstanceOf(VendorError);
            expect((e as VendorError).message).toContain(
              vendor === 'salto-ks' ? 'salto' : (vendor.split('-')[0] ?? vendor),
            );
          }
        }),
        { numRuns: 150 },
      );
    });
});
