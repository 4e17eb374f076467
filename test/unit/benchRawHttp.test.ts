/**
 * The webhook benchmark's HTTP client (bench/rawHttp.ts): its figures are only as true as its reading
 * of responses. Against a real node:http server: statuses read back one request at a time, a response
 * that arrives in pieces, the server seeing exactly the bytes prepared, and a dropped connection as 0.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawHttpConnection, rawPost } from '../../bench/rawHttp.ts';

describe('benchmark raw HTTP client', () => {
  let server: Server;
  let url: URL;
  const seen: { path: string; header: string | undefined; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ path: req.url ?? '', header: req.headers['x-probe'] as string | undefined, body });
        if (body === 'drop') return req.socket.destroy();
        const status = Number(body.split(':')[1] ?? 200);
        const payload = JSON.stringify({ echoed: body, pad: 'x'.repeat(3000) });
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': payload.length });
        // Headers and half the body now, the rest on the next turn: the client must wait for all of it.
        res.write(payload.slice(0, 1500));
        setImmediate(() => res.end(payload.slice(1500)));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/v1/seam?x=1`);
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('reads each status in turn on one connection, and a dropped connection as 0', async () => {
    const connection = new RawHttpConnection(url.hostname, Number(url.port));
    const statuses: number[] = [];
    for (const body of ['status:202', 'status:200', 'status:401', 'drop', 'status:202'])
      statuses.push(await connection.send(rawPost(url, { 'x-probe': 'yes' }, body)));
    connection.close();
    expect(statuses).toEqual([202, 200, 401, 0, 202]);
    expect(seen.map((s) => [s.path, s.header, s.body])).toEqual(
      ['status:202', 'status:200', 'status:401', 'drop', 'status:202'].map((b) => [
        '/webhooks/v1/seam?x=1',
        'yes',
        b,
      ]),
    );
  });
});
