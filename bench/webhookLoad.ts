/**
 * Closed-loop webhook load in its own process: C clients, N Svix-signed Seam events in all, each with
 * its own message id. Prints one JSON line.
 * Usage: webhookLoad.ts <endpointUrl> <whsec_secret> <n> <c> [raw|undici]
 *
 * Vendors send from their own machines; here the generator shares the two cores with the service, so
 * it does as little as it can: every request is built and signed before the clock starts, and sent as
 * prepared bytes on one keep-alive connection per client (`rawHttp.ts`). `undici` sends the same
 * requests through undici, as the REST load does, for comparison with earlier figures.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { Agent } from 'undici';
import { closedLoop, post } from './closedLoop.ts';
import { RawHttpConnection, rawPost } from './rawHttp.ts';

const [endpoint, secret, nArg, cArg, client = 'raw'] = process.argv.slice(2);
if (!endpoint || !secret) throw new Error('usage: webhookLoad.ts endpointUrl secret n c');
const n = Number(nArg ?? 20000);
const c = Number(cArg ?? 64);
const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
const url = new URL(endpoint);

const signed = Array.from({ length: n }, (_, i) => {
  const id = `msg_${randomUUID()}`;
  const body = JSON.stringify({
    event_id: randomUUID(),
    event_type: 'lock.unlocked',
    device_id: `device_${i % 500}`,
    occurred_at: new Date().toISOString(),
  });
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  const headers = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': ts,
    'webhook-signature': `v1,${sig}`,
  };
  return { headers, body };
});

async function overRawSockets() {
  const requests = signed.map((q) => rawPost(url, q.headers, q.body));
  const connections = Array.from({ length: c }, () => new RawHttpConnection(url.hostname, Number(url.port)));
  try {
    return await closedLoop(n, c, (i, k) => {
      const request = requests[i];
      const connection = connections[k];
      return request && connection ? connection.send(request) : Promise.resolve(0);
    });
  } finally {
    for (const connection of connections) connection.close();
  }
}

async function overUndici() {
  const agent = new Agent({ connections: c, pipelining: 1 });
  try {
    return await closedLoop(n, c, (i) => {
      const q = signed[i];
      return q ? post(agent, url, q.headers, q.body) : Promise.resolve(0);
    });
  } finally {
    await agent.close();
  }
}

const r = client === 'undici' ? await overUndici() : await overRawSockets();
const acknowledged = (r.statuses['202'] ?? 0) + (r.statuses['200'] ?? 0);
console.log(
  JSON.stringify({
    n,
    c,
    client,
    seconds: r.seconds,
    perSecond: Math.round(acknowledged / r.exactSeconds),
    p50: r.p50,
    p99: r.p99,
    acknowledged,
    statuses: r.statuses,
  }),
);
