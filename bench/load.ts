/**
 * Closed-loop REST load in its own process (as the Restate peer's load.mjs is): C clients, N requests in
 * all, each a new credential with its own Idempotency-Key. Prints one JSON line.
 * Usage: load.ts <baseUrl> <token> <propertyId> <rooms comma-separated> <n> <c>
 */
import { Agent } from 'undici';
import { closedLoop, post } from './closedLoop.ts';

const [base, token, propertyId, roomList, nArg, cArg] = process.argv.slice(2);
if (!base || !token || !propertyId || !roomList)
  throw new Error('usage: load.ts base token property rooms n c');
const rooms = roomList.split(',');
const n = Number(nArg ?? 5000);
const c = Number(cArg ?? 32);
const agent = new Agent({ connections: c, pipelining: 1 });
const url = new URL('/api/v1/key-credentials', base);

const r = await closedLoop(n, c, (i) =>
  post(
    agent,
    url,
    {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': `load-${process.pid}-${i}`,
    },
    JSON.stringify({
      propertyId,
      holder: { kind: 'guest', ref: `guest-${i}` },
      kind: 'pin',
      rooms: [rooms[i % rooms.length]],
      validFrom: '2026-12-01T14:00:00.000Z',
      validUntil: '2026-12-03T11:00:00.000Z',
    }),
  ),
);
const settled = r.statuses['201'] ?? 0;
console.log(
  JSON.stringify({
    n,
    c,
    seconds: r.seconds,
    perSecond: Math.round(n / r.exactSeconds),
    settledPerSecond: Math.round(settled / r.exactSeconds),
    p50: r.p50,
    p90: r.p90,
    p99: r.p99,
    statuses: r.statuses,
  }),
);
await agent.close();
