/**
 * Simulated mode: every simulator at its fixed port from SIMULATOR_BASE_PORT. A simulator already
 * listening there (started by `npm run simulators`) is used instead of a new one, so vendor state outlives
 * a restart of the service. Each simulator started here has SIM_LOCKS locks (doors) when that is set.
 */
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SALTO_KS_SIM_DEFAULTS, startSaltoKsSimulator } from './saltoKs/index.ts';
import { SALTO_SPACE_SIM_DEFAULTS, startSaltoSpaceSimulator } from './saltoSpace/index.ts';
import { startSeamFake } from './seam/index.ts';
import {
  startVostioSimulator,
  VOSTIO_SIM_DEFAULTS,
  type VostioClientTls,
  vostioClientTls,
} from './vostio/index.ts';
import { SEAM_FAKE_API_KEY } from './seam/simulator.ts';
import { startTtlockSimulator, TTLOCK_SIM_DEFAULTS } from './ttlock/index.ts';
import { Agent, request } from 'undici';

export const simulatorPorts = (base: number) => ({
  ttlock: base + 1,
  'salto-ks': base + 2,
  'salto-space': base + 3,
  vostio: base + 4,
  seam: base + 5,
});

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Asks a simulator another process runs for at least `count` locks; one that cannot is named. */
async function growTo(name: string, port: number, count: number, tls?: VostioClientTls): Promise<void> {
  const dispatcher = tls ? new Agent({ connect: { ca: tls.ca, cert: tls.cert, key: tls.key } }) : undefined;
  try {
    const r = await request(`${tls ? 'https' : 'http'}://127.0.0.1:${port}/_sim/locks`, {
      method: 'POST',
      body: JSON.stringify({ count }),
      headers: { 'content-type': 'application/json' },
      ...(dispatcher ? { dispatcher } : {}),
    });
    await r.body.dump();
    if (r.statusCode !== 200)
      throw new Error(`the ${name} simulator on port ${port} did not take SIM_LOCKS (${r.statusCode})`);
  } finally {
    await dispatcher?.close();
  }
}

export interface RunningSimulators {
  defaults: Record<string, Record<string, unknown>>;
  started: string[];
  close(): Promise<void>;
}

export interface EnsureSimulatorsOptions {
  /** Start the simulators not yet listening (otherwise only those running elsewhere are used). */
  startMissing: boolean;
  /** Locks (doors) of each simulator started here (SIM_LOCKS); each simulator's own default when unset. */
  locks?: number;
}

export async function ensureSimulators(
  base: number,
  opts: EnsureSimulatorsOptions,
): Promise<RunningSimulators> {
  const ports = simulatorPorts(base);
  const owned: { close(): Promise<void> }[] = [];
  const started: string[] = [];
  /** The simulator this process started, 'elsewhere' when another process runs it, or undefined. */
  const ensure = async <T extends { close(): Promise<void> }>(
    name: keyof typeof ports,
    start: (port: number) => Promise<T>,
  ): Promise<T | 'elsewhere' | undefined> => {
    if (await listening(ports[name])) return 'elsewhere';
    if (!opts.startMissing) return undefined;
    const sim = await start(ports[name]);
    owned.push(sim);
    started.push(name);
    return sim;
  };
  const { locks } = opts;
  const ttlock = await ensure('ttlock', (port) => startTtlockSimulator({ port, lockCount: locks }));
  const saltoKs = await ensure('salto-ks', (port) => startSaltoKsSimulator({ port, lockCount: locks }));
  const saltoSpace = await ensure('salto-space', (port) =>
    startSaltoSpaceSimulator({ port, doorCount: locks }),
  );
  // Vostio's mTLS material is kept on disk beside its port, so a service started later reads the same;
  // it is read only for a simulator another process runs, and made only with a simulator.
  const vostioCerts = join(tmpdir(), 'lock-integration-simulators', `vostio-${ports.vostio}`);
  const vostio = await ensure('vostio', (port) =>
    startVostioSimulator({ port, certDir: vostioCerts, doorCount: locks }),
  );
  const vostioTls: VostioClientTls | undefined =
    vostio === 'elsewhere' ? vostioClientTls(vostioCerts) : vostio?.clientTls;
  // Seam simulated is Seam's own fake, seeded (devices august_device_1, august_device_2, schlage_device_id;
  // with SIM_LOCKS, more August locks).
  const seam = await ensure('seam', (port) => startSeamFake({ port, lockCount: locks }));
  // SIM_LOCKS holds for simulators another process runs too: they are grown to it (none shrinks).
  if (locks !== undefined) {
    const elsewhere = { ttlock, 'salto-ks': saltoKs, 'salto-space': saltoSpace, vostio, seam };
    for (const [name, sim] of Object.entries(elsewhere) as [keyof typeof ports, unknown][])
      if (sim === 'elsewhere')
        await growTo(name, ports[name], locks, name === 'vostio' ? vostioTls : undefined);
  }
  return {
    defaults: {
      ttlock: { baseUrl: `http://127.0.0.1:${ports.ttlock}`, ...TTLOCK_SIM_DEFAULTS },
      'salto-ks': { baseUrl: `http://127.0.0.1:${ports['salto-ks']}`, ...SALTO_KS_SIM_DEFAULTS },
      'salto-space': { baseUrl: `http://127.0.0.1:${ports['salto-space']}`, ...SALTO_SPACE_SIM_DEFAULTS },
      ...(vostioTls && {
        vostio: {
          baseUrl: `https://127.0.0.1:${ports.vostio}`,
          ...VOSTIO_SIM_DEFAULTS,
          ca: vostioTls.ca,
          clientCert: vostioTls.cert,
          clientKey: vostioTls.key,
        },
      }),
      seam: { endpoint: `http://127.0.0.1:${ports.seam}`, apiKey: SEAM_FAKE_API_KEY },
      // No cloud to simulate: cards are written by the property's desk agent (its encoder, or a simulator).
      'generic-wiegand': { format: 'H10301', facilityCode: 1 },
    },
    started,
    close: async () => {
      for (const s of owned) await s.close();
    },
  };
}
