/**
 * The Vostio simulator keeps its mTLS material in a directory (by default under `$TMPDIR`) so that a service
 * started later shares it. Kept material that TLS refuses is made again at the simulator's start rather than
 * stopping every later start on the machine; material that works is kept.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
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

/** The doors' list through mTLS, as a client holding the material kept in `dir` would ask. */
async function doorsStatus(url: string, dir: string): Promise<number> {
  const tls = vostioClientTls(dir);
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/v1/sites/${VOSTIO_SIM_DEFAULTS.siteId}/doors`,
      { ca: tls.ca, cert: tls.cert, key: tls.key },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Starts the simulator on `dir` as it is now; answers whether a client with the kept material is served. */
async function startsAndServes(dir: string): Promise<number> {
  const sim = await startVostioSimulator({ certDir: dir });
  try {
    return await doorsStatus(sim.url, dir);
  } finally {
    await sim.close();
  }
}

describe('vostio simulator: kept mTLS material', () => {
  it('material that works is kept across starts', async () => {
    const dir = freshDir();
    const ca = await made(dir);
    expect(await startsAndServes(dir)).toBe(200);
    expect(readFileSync(join(dir, 'ca.pem'), 'utf8')).toBe(ca);
  });

  it('a key file cut short is made again, and the simulator starts and serves', async () => {
    const dir = freshDir();
    const ca = await made(dir);
    const key = readFileSync(join(dir, 'server.key'), 'utf8');
    writeFileSync(join(dir, 'server.key'), key.slice(0, key.length >> 1));
    expect(await startsAndServes(dir)).toBe(200);
    expect(readFileSync(join(dir, 'ca.pem'), 'utf8')).not.toBe(ca);
  });

  it('a client certificate another CA signed is made again, so the kept client is served', async () => {
    const dir = freshDir();
    const other = freshDir();
    await made(dir);
    await made(other);
    for (const f of ['client.pem', 'client.key']) copyFileSync(join(other, f), join(dir, f));
    expect(await startsAndServes(dir)).toBe(200);
  });
});
