/**
 * The Vostio simulator keeps its mTLS material in a directory (by default under `$TMPDIR`) so that a service
 * started later shares it. Kept material that TLS refuses is made again at the simulator's start rather than
 * stopping every later start on the machine; material that works is kept.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/ids.ts';
import {
  createVostioAdapter,
  startVostioSimulator,
  VOSTIO_SIM_DEFAULTS,
  vostioClientTls,
} from '../../src/io/vendors/vostio/index.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'vostio-material-'));
  dirs.push(d);
  return d;
}

/** Makes the simulator's material in `dir` (a start and a stop) and answers its CA. */
async function made(dir: string): Promise<string> {
  const sim = await startVostioSimulator({ certDir: dir });
  await sim.close();
  return readFileSync(join(dir, 'ca.pem'), 'utf8');
}

/**
 * Starts the simulator on `dir` as it is now; answers how many doors the Vostio adapter, holding the client
 * material kept in `dir`, lists through mTLS.
 */
async function startsAndServes(dir: string): Promise<number> {
  const sim = await startVostioSimulator({ certDir: dir });
  try {
    const tls = vostioClientTls(dir);
    const adapter = createVostioAdapter({
      config: {
        baseUrl: sim.url,
        ...VOSTIO_SIM_DEFAULTS,
        ca: tls.ca,
        clientCert: tls.cert,
        clientKey: tls.key,
      },
      clock: systemClock,
      timeoutMs: 2000,
    });
    return (await adapter.listLocks()).length;
  } finally {
    await sim.close();
  }
}

describe('vostio simulator: kept mTLS material', () => {
  it('material that works is kept across starts', async () => {
    const dir = freshDir();
    const ca = await made(dir);
    expect(await startsAndServes(dir)).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'ca.pem'), 'utf8')).toBe(ca);
  });

  it('a key file cut short is made again, and the simulator starts and serves', async () => {
    const dir = freshDir();
    const ca = await made(dir);
    const key = readFileSync(join(dir, 'server.key'), 'utf8');
    writeFileSync(join(dir, 'server.key'), key.slice(0, key.length >> 1));
    expect(await startsAndServes(dir)).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'ca.pem'), 'utf8')).not.toBe(ca);
  });

  it('a client certificate another CA signed is made again, so the kept client is served', async () => {
    const dir = freshDir();
    const other = freshDir();
    await made(dir);
    await made(other);
    for (const f of ['client.pem', 'client.key']) copyFileSync(join(other, f), join(dir, f));
    expect(await startsAndServes(dir)).toBeGreaterThan(0);
  });
});
