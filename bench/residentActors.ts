/**
 * Scenario 3, in a process of its own so its RSS is the host's: writes N active credential snapshots
 * (each produced by the real machine: issue → vendor done → active), activates every one into a single
 * ActorHost, timing each activation, and reports the RSS with all N resident. Prints one JSON line.
 * Usage: residentActors.ts <databaseUrl> <n>   (run with --expose-gc)
 */
import { randomUUID } from 'node:crypto';
import { initialTransition, transition } from 'xstate';
import { ActorHost, actorKinds } from '../src/actors/index.ts';
import { systemClock } from '../src/ids.ts';
import { connect, ensureDatabase, migrateToLatest, withUser } from '../src/io/db/index.ts';
import { credentialMachine } from '../src/machines/index.ts';
import { percentile } from './environment.ts';

const [databaseUrl, nArg] = process.argv.slice(2);
if (!databaseUrl) throw new Error('usage: residentActors.ts <databaseUrl> <n>');
const n = Number(nArg ?? 100_000);
const tenantId = 'bench-tenant';

await ensureDatabase(databaseUrl);
await migrateToLatest(databaseUrl);
const owner = connect(databaseUrl, { max: 4 });
const runtimeDb = connect(withUser(databaseUrl, 'lock_runtime'), { max: 16 });

function activeSnapshot(id: string, i: number): string {
  const lock = `lock-${i % 400}`;
  let [s] = initialTransition(credentialMachine, { id, tenantId });
  for (const e of [
    {
      type: 'credential.issue',
      at: '2026-11-22T10:00:00.000Z',
      propertyId: 'bench-property',
      reservationId: `res-${i}`,
      holder: { kind: 'guest', ref: `guest-${i}` },
      kind: 'pin',
      rooms: [`${101 + (i % 400)}`],
      areas: [],
      validFrom: '2026-12-01T14:00:00.000Z',
      validUntil: '2026-12-03T11:00:00.000Z',
      secret: 'v1.bench.AAAAAAAAAAAAAAAA.AAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA',
      targets: [
        {
          roomId: `${101 + (i % 400)}`,
          lockDeviceId: lock,
          vendor: 'ttlock',
          vendorDeviceRef: `${7001 + (i % 400)}`,
        },
      ],
      unresolved: [],
    },
    {
      type: 'effect.done.issueGrant',
      at: '2026-11-22T10:00:01.000Z',
      operationId: `${id}:${lock}:issue`,
      vendorRef: `${100000 + i}`,
    },
  ] as const) {
    [s] = transition(credentialMachine, s, e as never);
  }
  if (s.value !== 'active') throw new Error(`expected active, got ${JSON.stringify(s.value)}`);
  return JSON.stringify(credentialMachine.getPersistedSnapshot(s));
}

const ids: string[] = [];
const writeStarted = performance.now();
for (let start = 0; start < n; start += 1000) {
  const rows = [];
  for (let i = start; i < Math.min(n, start + 1000); i++) {
    const id = randomUUID();
    ids.push(id);
    rows.push({
      tenant_id: tenantId,
      actor_type: 'credential',
      actor_id: id,
      version: 2,
      last_seq: 2,
      machine_version: actorKinds.credential.machineVersion,
      snapshot: activeSnapshot(id, i),
    });
  }
  await owner.insertInto('actor_snapshots').values(rows).execute();
}
const writeSeconds = (performance.now() - writeStarted) / 1000;

const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const before = process.memoryUsage();
const host = new ActorHost({ runtimeDb, clock: systemClock, eventsRoot: 'lock.events', maxResident: n + 1 });
const kind = actorKinds.credential;
const ms = (x: number) => Math.round(x * 1000) / 1000;
const summary = (l: number[]) => {
  l.sort((a, b) => a - b);
  return { p50: ms(percentile(l, 0.5)), p99: ms(percentile(l, 0.99)), max: ms(l.at(-1) ?? 0) };
};
const activate = async (id: string, into: number[]) => {
  const t = performance.now();
  await host.activate(kind, { type: 'credential', id }, tenantId);
  into.push(performance.now() - t);
};
// Latency: the first 10% one at a time, as a quiet partition sees it.
const sequential: number[] = [];
const quiet = Math.floor(n / 10);
for (let i = 0; i < quiet; i++) await activate(ids[i] as string, sequential);
// Throughput: the rest 16 at a time, as 16 busy partitions would (reads are batched).
const concurrent: number[] = [];
const activateStarted = performance.now();
let next = quiet;
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < ids.length) await activate(ids[next++] as string, concurrent);
  }),
);
const activateSeconds = (performance.now() - activateStarted) / 1000;
gc?.();
const mem = process.memoryUsage();
console.log(
  JSON.stringify({
    actors: n,
    resident: host.residentCount,
    writeSeconds: Math.round(writeSeconds * 10) / 10,
    activateSeconds: Math.round(activateSeconds * 10) / 10,
    activationsPerSecond: Math.round((n - quiet) / activateSeconds),
    activationMs: summary(sequential),
    activationMsAt16: summary(concurrent),
    rssMiB: Math.round(mem.rss / 2 ** 20),
    heapUsedMiB: Math.round(mem.heapUsed / 2 ** 20),
    // The heap a resident actor costs (RSS after the snapshot generation above does not shrink back).
    heapBytesPerActor: Math.round((mem.heapUsed - before.heapUsed) / n),
  }),
);
await owner.destroy();
await runtimeDb.destroy();
