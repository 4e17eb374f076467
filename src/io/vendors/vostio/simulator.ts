/**
 * An ASSA ABLOY Vostio simulator: a REST API behind mutual TLS, as the design requires. No public API
 * reference exists, so everything here is modelled (docs/vendors/vostio.md says what and why): a TLS
 * server that refuses any client without a certificate from the integration CA, doors (some on Vostio
 * Online), guest card keys encoded at a cloud-connected encoder and idempotent by `externalId`, validity
 * changed in place only when every door of the key is online, and JSON errors `{error:{code,message}}`.
 */
import { randomUUID, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import {
  type BaseFaults,
  type SimReply,
  type SimRequest,
  seededLocks,
  startSimServer,
  type VendorSimulator,
} from '../simServer.ts';
import { createCertificateAuthority, issueCertificate } from './certificates.ts';

export interface VostioSimulatorOptions {
  port?: number;
  host?: string;
  doorCount?: number;
  /** Where the CA and certificates are kept, so a restarted simulator and the service share them. */
  certDir?: string;
}

export interface VostioFaults extends BaseFaults {
  rateLimited: boolean;
  encoderTimeout: boolean;
  encoderOffline: boolean;
}

/** What a client needs to reach the simulator: PEMs of the CA, its certificate and its key. */
export interface VostioClientTls {
  ca: string;
  cert: string;
  key: string;
}

export const VOSTIO_SIM_DEFAULTS = { siteId: 'site-sim-1', encoderId: 'front-desk-1' } as const;
/** The client certificate's CN: the integration the simulator knows. */
export const VOSTIO_SIM_CLIENT_CN = 'lock-integration-service';

interface VostioDoor {
  id: string;
  name: string;
  online: boolean;
  batteryLevel: number;
}
interface VostioKey {
  id: string;
  externalId: string;
  doorIds: string[];
  validFrom: string;
  validTo: string;
  encodedAt: string;
}

export interface VostioState {
  locks: { ref: string; name: string }[];
  credentials: { ref: string; lockRef: string; kind: 'card'; validFrom: string; validUntil: string }[];
}

export interface VostioSimulator extends VostioSimulatorBase {
  clientTls: VostioClientTls;
  /** Takes a door off (or puts it back on) Vostio Online. */
  setDoorOnline(doorId: string, online: boolean): void;
}

interface Material {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/**
 * The material kept in `dir`, or new material (written there). With `replaceUnusable`, kept material that TLS
 * would refuse (a file cut short, a key that is not its certificate's, a certificate not signed by the kept CA,
 * or one an older simulator made that this Node refuses) is made again: a bad copy in the temporary directory
 * would otherwise stop every later start on the machine. A reader of another process's material
 * (`vostioClientTls`) takes what is there: made again, it would not match the running simulator's.
 */
function loadOrCreateMaterial(dir: string | undefined, replaceUnusable = false): Material {
  const files = {
    ca: 'ca.pem',
    serverCert: 'server.pem',
    serverKey: 'server.key',
    clientCert: 'client.pem',
    clientKey: 'client.key',
  };
  if (dir && Object.values(files).every((f) => existsSync(join(dir, f)))) {
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    const kept: Material = {
      ca: read(files.ca),
      serverCert: read(files.serverCert),
      serverKey: read(files.serverKey),
      clientCert: read(files.clientCert),
      clientKey: read(files.clientKey),
    };
    if (!replaceUnusable || usable(kept)) return kept;
  }
  const ca = createCertificateAuthority('Vostio simulator integration CA');
  const server = issueCertificate(ca, 'vostio-simulator', 'server');
  const client = issueCertificate(ca, VOSTIO_SIM_CLIENT_CN, 'client');
  const m: Material = {
    ca: ca.certPem,
    serverCert: server.certPem,
    serverKey: server.keyPem,
    clientCert: client.certPem,
    clientKey: client.keyPem,
  };
  if (dir) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const [k, f] of Object.entries(files))
      writeFileSync(join(dir, f), m[k as keyof Material], { mode: f.endsWith('.key') ? 0o600 : 0o644 });
  }
  return m;
}

/** Whether TLS takes the material: each certificate with its key, each signed by the CA. */
function usable(m: Material): boolean {
  try {
    const ca = new X509Certificate(m.ca);
    for (const [cert, key] of [
      [m.serverCert, m.serverKey],
      [m.clientCert, m.clientKey],
    ] as const) {
      createSecureContext({ ca: m.ca, cert, key });
      if (!new X509Certificate(cert).verify(ca.publicKey)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

type VostioSimulatorBase = VendorSimulator<VostioState, VostioFaults>;

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
/** A key's window from a body: two ISO-8601 UTC times, the end after the start; null otherwise. */
const windowOf = (body: Record<string, unknown>): { validFrom: string; validTo: string } | null => {
  const { validFrom, validTo } = body;
  return typeof validFrom === 'string' &&
    ISO.test(validFrom) &&
    typeof validTo === 'string' &&
    ISO.test(validTo) &&
    validTo > validFrom
    ? { validFrom, validTo }
    : null;
};
const error = (
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): SimReply => ({
  status,
  body: { error: { code, message, ...extra } },
});

/** The client side of the simulator's material in `certDir` (made there if absent). */
export function vostioClientTls(certDir: string): VostioClientTls {
  const m = loadOrCreateMaterial(certDir);
  return { ca: m.ca, cert: m.clientCert, key: m.clientKey };
}

export async function startVostioSimulator(opts: VostioSimulatorOptions = {}): Promise<VostioSimulator> {
  const material = loadOrCreateMaterial(opts.certDir, true);
  let doors = new Map<string, VostioDoor>();
  let keys = new Map<string, VostioKey>();

  /** The seed's doors (`seedDoor`), as many as the option says or `/_sim/locks` asked for since. */
  const seeding = seededLocks({
    count: opts.doorCount ?? 10,
    existing: () => doors.size,
    seedOne: seedDoor,
    refs: () => [...doors.keys()],
  });

  function reset() {
    doors = new Map();
    keys = new Map();
    seeding.seed();
  }

  /** Door `i` of the seed (0-based): `door-501 + i`; batteries 95…32 %, repeating past the tenth door. */
  function seedDoor(i: number) {
    const id = `door-${501 + i}`;
    doors.set(id, { id, name: `Room ${501 + i}`, online: true, batteryLevel: 95 - (i % 10) * 7 });
  }

  function handle(req: SimRequest, f: VostioFaults): SimReply {
    // The TLS layer has refused clients without a CA-signed certificate; this checks which client it is.
    if (req.clientCertCn !== VOSTIO_SIM_CLIENT_CN)
      return error(403, 'FORBIDDEN', 'client certificate is not an enabled integration');
    if (f.rateLimited)
      return { ...error(429, 'RATE_LIMITED', 'too many requests'), headers: { 'retry-after': '2' } };
    const prefix = `/v1/sites/${VOSTIO_SIM_DEFAULTS.siteId}`;
    if (!req.path.startsWith(prefix)) return error(404, 'SITE_NOT_FOUND', 'no such site');
    const [resource, id, action] = req.path.slice(prefix.length).split('/').filter(Boolean);
    let body: Record<string, unknown>;
    try {
      body = req.body ? (JSON.parse(req.body) as Record<string, unknown>) : {};
    } catch {
      return error(400, 'INVALID_REQUEST', 'body is not JSON');
    }

    if (resource === 'doors') {
      if (!id && req.method === 'GET') return { status: 200, body: { doors: [...doors.values()] } };
      const door = id ? doors.get(id) : undefined;
      if (!door) return error(404, 'DOOR_NOT_FOUND', 'no such door');
      if (!action && req.method === 'GET') return { status: 200, body: door };
      if (action === 'unlock' && req.method === 'POST') {
        if (!door.online) return error(409, 'DOOR_OFFLINE', 'the door is not on Vostio Online');
        return { status: 202, body: { status: 'accepted' } };
      }
      return error(405, 'METHOD_NOT_ALLOWED', req.method);
    }

    if (resource === 'keys') {
      if (!id && req.method === 'GET') {
        const externalId = req.query.get('externalId');
        const list = [...keys.values()].filter((k) => !externalId || k.externalId === externalId);
        return { status: 200, body: { keys: list } };
      }
      if (!id && req.method === 'POST') {
        const { externalId, encoderId, doorIds } = body;
        const window = windowOf(body);
        if (typeof externalId !== 'string' || !externalId) return error(400, 'INVALID_REQUEST', 'externalId');
        if (!Array.isArray(doorIds) || doorIds.length === 0) return error(400, 'INVALID_REQUEST', 'doorIds');
        if (!window) return error(400, 'INVALID_REQUEST', 'validFrom/validTo');
        const existing = [...keys.values()].find((k) => k.externalId === externalId);
        if (existing)
          return error(409, 'DUPLICATE_EXTERNAL_ID', 'a key with this externalId exists', {
            keyId: existing.id,
          });
        const unknown = doorIds.map(String).find((d) => !doors.has(d));
        if (unknown) return error(404, 'DOOR_NOT_FOUND', `no such door ${unknown}`);
        if (encoderId !== VOSTIO_SIM_DEFAULTS.encoderId || f.encoderOffline)
          return error(503, 'ENCODER_OFFLINE', 'the encoder is not connected');
        if (f.encoderTimeout) return error(504, 'ENCODER_TIMEOUT', 'no card was presented in time');
        const key: VostioKey = {
          id: randomUUID(),
          externalId,
          doorIds: doorIds.map(String),
          ...window,
          encodedAt: new Date().toISOString(),
        };
        keys.set(key.id, key);
        return { status: 201, body: key };
      }
      const key = id ? keys.get(id) : undefined;
      if (!key) return error(404, 'KEY_NOT_FOUND', 'no such key');
      if (req.method === 'GET') return { status: 200, body: key };
      if (req.method === 'DELETE') {
        keys.delete(key.id);
        return { status: 204 };
      }
      if (req.method === 'PATCH') {
        const window = windowOf(body);
        if (!window) return error(400, 'INVALID_REQUEST', 'validFrom/validTo');
        // Only Vostio Online doors can take a new window without the card being encoded again.
        if (key.doorIds.some((d) => !doors.get(d)?.online))
          return error(409, 'REENCODE_REQUIRED', 'a door of this key is offline: encode a new card');
        Object.assign(key, window);
        return { status: 200, body: key };
      }
      return error(405, 'METHOD_NOT_ALLOWED', req.method);
    }
    return error(404, 'NOT_FOUND', req.path);
  }

  function state(): VostioState {
    return {
      locks: [...doors.values()].map((d) => ({ ref: d.id, name: d.name })),
      credentials: [...keys.values()].flatMap((k) =>
        k.doorIds.map((lockRef) => ({
          ref: k.id,
          lockRef,
          kind: 'card' as const,
          validFrom: k.validFrom,
          validUntil: k.validTo,
        })),
      ),
    };
  }

  const server = await startSimServer<VostioState, VostioFaults>({
    port: opts.port,
    host: opts.host,
    tls: {
      key: material.serverKey,
      cert: material.serverCert,
      ca: material.ca,
      requestCert: true,
      rejectUnauthorized: true,
    },
    initialFaults: {
      latencyMs: 0,
      outage: false,
      rateLimited: false,
      encoderTimeout: false,
      encoderOffline: false,
    },
    reset,
    state,
    setLocks: seeding.setLocks,
    handle,
  });
  return {
    ...server,
    clientTls: { ca: material.ca, cert: material.clientCert, key: material.clientKey },
    setDoorOnline: (doorId, online) => {
      const d = doors.get(doorId);
      if (d) d.online = online;
    },
  };
}
