/**
 * Simulated Seam is Seam's own fake (`@seamapi/fake-seam-connect`, the server Seam's SDKs test against),
 * seeded with its default workspace, behind a thin layer that models what the fake does not (Seam's API
 * reference and `seamapi/types`):
 * - lists are paged: `/devices/list` and `/access_codes/list` answer at most `pageSize` items (3 by default,
 *   small on purpose) with `pagination.next_page_cursor`, so a client must follow the cursor;
 * - an access code is `setting` for its first `settingReads` reads and `set` after (the lock is programmed
 *   asynchronously);
 * - a code whose PIN another code on the device holds is accepted (201) and then carries
 *   `duplicate_code_on_device` in its `errors` and never becomes `set`: Seam reports the clash on the code,
 *   not as an HTTP error;
 * - remote unlocking is an action attempt: `pending`, then `success`, or `error` for a jammed lock, or
 *   `pending` for ever for a lock that does not answer; a device may not allow it (`can_remotely_unlock`).
 * Its one control route of its own is `POST /_sim/locks` (the fake's are `/_fake/*`; it has no reset).
 * Loaded lazily, so the service does not load it unless it simulates Seam.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Database } from '@seamapi/fake-seam-connect';
import { requestedLockCount } from '../simServer.ts';

export const SEAM_FAKE_API_KEY = 'seam_apikey1_token';
const WORKSPACE = 'seed_workspace_1';

export interface SeamFake {
  url: string;
  apiKey: string;
  /** The access codes on a device, as Seam reports them. */
  accessCodes(deviceId: string): Promise<{ access_code_id: string; starts_at?: string; ends_at?: string }[]>;
  /** Answers 503 on the given routes (the fake's workspace outage); none ends it. */
  outage(routes: string[]): Promise<void>;
  /** How the device's next unlocks go: `jammed` (the attempt fails), `silent` (it never ends), or `ok`. */
  unlocks(deviceId: string, how: 'ok' | 'jammed' | 'silent'): void;
  /** Whether the device allows remote unlocking (`can_remotely_unlock`). */
  remoteUnlockable(deviceId: string, allowed: boolean): void;
  /** Unlock attempts made per device, whatever their outcome. */
  unlockAttempts(deviceId: string): number;
  /** The device's code rules (`supported_code_lengths`, `code_constraints`), shown and enforced on create. */
  codeRules(deviceId: string, rules: { lengths?: number[]; constraints?: string[] }): void;
  close(): Promise<void>;
}

export interface SeamFakeOptions {
  port?: number;
  /** Locks the workspace has: the seed's three, and more numbered on from them (as `/_sim/locks`). */
  lockCount?: number;
  /** Items per page of a list (3). */
  pageSize?: number;
  /** Reads of a new access code that still say `setting` (1). */
  settingReads?: number;
}

type Json = Record<string, unknown>;
interface AccessCode extends Json {
  access_code_id: string;
  device_id?: string;
  code?: string;
}
type Device = Database['devices'][number];
interface Answer {
  status: number;
  type: string;
  text: string;
}

/** A lock as the adapter counts one: a device of the seeded workspace that takes access codes. */
const isLock = (d: Device) => d.workspace_id === WORKSPACE && d.can_program_online_access_codes === true;
/** The fake's `addDevice` copies the whole device list on each call: locks are made this many at a time. */
const LOCK_BATCH = 500;

/** August lock `n`, made as the seed makes `august_device_1` and `_2` (John's August account). */
const augustLock = (n: number): Parameters<Database['addDevice']>[0] => ({
  device_id: `august_device_${n}`,
  connected_account_id: 'john_connected_account_id',
  device_type: 'august_lock',
  name: `Door ${n}`,
  workspace_id: WORKSPACE,
  can_remotely_lock: true,
  can_remotely_unlock: true,
  can_program_online_access_codes: true,
  properties: { name: `Fake August Lock ${n}`, manufacturer: 'august', locked: true },
});

export async function startSeamFake(opts: SeamFakeOptions = {}): Promise<SeamFake> {
  const { createDatabase, createFake } = await import('@seamapi/fake-seam-connect');
  const fake = await createFake();
  await fake.seed();
  await fake.startServer();

  /**
   * The workspace has at least `count` locks: the seed's, then August locks numbered on from the seed's
   * (`august_device_3`…), made by the fake's own `addDevice`. As that copies every device on each call (tens
   * of thousands of locks would take minutes), they are made in batches on a scratch database and added to
   * the fake's in one step. Answers every lock's device id, in order.
   */
  async function addLocks(count: number): Promise<string[]> {
    const state = await fake.toJSON();
    const locks = state.devices.filter(isLock);
    const next = state.devices.filter((d) => /^august_device_\d+$/.test(d.device_id)).length + 1;
    const missing = count - locks.length;
    const made: Device[] = [];
    const scratch = createDatabase();
    for (let from = 0; from < missing; from += LOCK_BATCH) {
      scratch.setState({ devices: [] });
      for (let k = from; k < Math.min(missing, from + LOCK_BATCH); k++)
        scratch.addDevice(augustLock(next + k));
      made.push(...scratch.devices);
    }
    if (made.length > 0) await fake.loadJSON({ ...state, devices: [...state.devices, ...made] });
    return [...locks, ...made].map((d) => d.device_id);
  }

  /** `POST /_sim/locks {"count": n}`, as every simulator takes it. */
  async function simLocks(raw: string): Promise<Answer> {
    const count = requestedLockCount(raw);
    return typeof count === 'number'
      ? { status: 200, type: 'application/json', text: JSON.stringify({ locks: await addLocks(count) }) }
      : { status: count.status, type: 'application/json', text: JSON.stringify(count.body) };
  }

  if (opts.lockCount) await addLocks(opts.lockCount);
  const upstream = String(fake.serverUrl).replace('localhost', '127.0.0.1');
  const pageSize = opts.pageSize ?? 3;
  const settingReads = opts.settingReads ?? 1;
  /** Codes this layer knows more of than the fake: reads left while `setting`, and the PIN they clash on. */
  const lifecycle = new Map<string, { readsLeft: number; duplicate: boolean; code: string }>();
  const unlockMode = new Map<string, 'ok' | 'jammed' | 'silent'>();
  const noRemote = new Set<string>();
  const attempts = new Map<string, { device: string; reads: number }>();
  const attemptCount = new Map<string, number>();
  const attemptView = (id: string): Json => {
    const a = attempts.get(id);
    const mode = unlockMode.get(a?.device ?? '') ?? 'ok';
    const base = { action_attempt_id: id, action_type: 'UNLOCK_DOOR' };
    if (!a || a.reads === 0 || mode === 'silent')
      return { ...base, status: 'pending', result: null, error: null };
    if (mode === 'jammed')
      return {
        ...base,
        status: 'error',
        result: null,
        error: { type: 'lock_jammed', message: 'The lock is jammed.' },
      };
    return { ...base, status: 'success', result: {}, error: null };
  };
  const rules = new Map<string, { lengths?: number[]; constraints?: string[] }>();
  const deviceView = (d: Json): Json => {
    const r = rules.get(String(d.device_id));
    const properties = {
      ...(d.properties as Json),
      ...(r?.lengths ? { supported_code_lengths: r.lengths } : {}),
      ...(r?.constraints ? { code_constraints: r.constraints.map((c) => ({ constraint_type: c })) } : {}),
    };
    return { ...d, properties, can_remotely_unlock: !noRemote.has(String(d.device_id)) };
  };

  const forward = async (path: string, body: unknown, auth: string) => {
    const r = await fetch(`${upstream}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth },
      body: JSON.stringify(body ?? {}),
    });
    const text = await r.text();
    return { status: r.status, type: r.headers.get('content-type') ?? 'application/json', text };
  };

  /** What this layer shows of a code: its lifecycle status and errors, its own PIN. */
  const view = (c: AccessCode, read: boolean): AccessCode => {
    const l = lifecycle.get(c.access_code_id);
    if (!l) return c;
    if (l.duplicate)
      return {
        ...c,
        code: l.code,
        status: 'setting',
        errors: [
          {
            error_code: 'duplicate_code_on_device',
            message: 'Another access code on the device has the same code.',
            is_access_code_error: true,
          },
        ],
      };
    if (l.readsLeft > 0) {
      if (read) l.readsLeft--;
      return { ...c, status: 'setting' };
    }
    return { ...c, status: 'set' };
  };

  async function handle(
    path: string,
    body: Json,
    auth: string,
  ): Promise<{ status: number; type: string; text: string }> {
    const json = (v: Json) => ({
      status: 200,
      type: 'application/json',
      text: JSON.stringify({ ...v, ok: true }),
    });
    if (path === '/locks/unlock_door' && typeof body.device_id === 'string') {
      if (noRemote.has(body.device_id))
        return {
          status: 400,
          type: 'application/json',
          text: JSON.stringify({
            error: {
              type: 'remote_unlock_not_supported',
              message: 'The device cannot be unlocked remotely.',
            },
          }),
        };
      const id = `aa_${Math.random().toString(36).slice(2)}`;
      attempts.set(id, { device: body.device_id, reads: 0 });
      attemptCount.set(body.device_id, (attemptCount.get(body.device_id) ?? 0) + 1);
      return json({ action_attempt: attemptView(id) });
    }
    if (
      path === '/action_attempts/get' &&
      typeof body.action_attempt_id === 'string' &&
      attempts.has(body.action_attempt_id)
    ) {
      const a = attempts.get(body.action_attempt_id);
      if (a) a.reads++;
      return json({ action_attempt: attemptView(body.action_attempt_id) });
    }
    if (path === '/devices/get') {
      const r = await forward(path, body, auth);
      if (r.status !== 200) return r;
      const parsed = JSON.parse(r.text) as Json;
      return { ...r, text: JSON.stringify({ ...parsed, device: deviceView(parsed.device as Json) }) };
    }
    if (
      path === '/access_codes/create' &&
      typeof body.code === 'string' &&
      typeof body.device_id === 'string'
    ) {
      // The device's rules (what Seam checks: a length it does not take, zeros where refused).
      const deviceRules = rules.get(body.device_id);
      if (
        (deviceRules?.lengths && !deviceRules.lengths.includes(body.code.length)) ||
        (deviceRules?.constraints?.includes('no_zeros') && body.code.includes('0'))
      )
        return {
          status: 400,
          type: 'application/json',
          text: JSON.stringify({
            error: {
              type: 'code_constraints_violated',
              message: 'The code does not meet the device constraints.',
            },
          }),
        };
      const listed = await forward('/access_codes/list', { device_id: body.device_id }, auth);
      const existing =
        listed.status === 200 ? ((JSON.parse(listed.text) as Json).access_codes as AccessCode[]) : [];
      // On this device only (the fake's list is not to be trusted to filter).
      const clash = existing.some(
        (c) =>
          (c.device_id === undefined || c.device_id === body.device_id) &&
          (lifecycle.get(c.access_code_id)?.code ?? c.code) === body.code,
      );
      // The fake refuses a clash outright; Seam accepts the code and reports the clash on it later.
      const sent = clash ? { ...body, code: String(Math.floor(1e7 + Math.random() * 9e7)) } : body;
      const r = await forward(path, sent, auth);
      if (r.status === 200 || r.status === 201) {
        const created = (JSON.parse(r.text) as Json).access_code as AccessCode;
        lifecycle.set(created.access_code_id, { readsLeft: settingReads, duplicate: clash, code: body.code });
        return { ...r, text: JSON.stringify({ ...JSON.parse(r.text), access_code: view(created, false) }) };
      }
      return r;
    }
    const list = path === '/devices/list' ? 'devices' : path === '/access_codes/list' ? 'access_codes' : null;
    if (list) {
      const { page_cursor: cursor, limit, ...params } = body;
      const r = await forward(path, params, auth);
      if (r.status !== 200) return r;
      const all = ((JSON.parse(r.text) as Json)[list] as AccessCode[]).map((x) =>
        list === 'access_codes' ? view(x, true) : (deviceView(x) as AccessCode),
      );
      const size = Math.min(pageSize, typeof limit === 'number' && limit > 0 ? limit : pageSize);
      const start = typeof cursor === 'string' ? Number(Buffer.from(cursor, 'base64url').toString()) || 0 : 0;
      const next = start + size < all.length ? Buffer.from(String(start + size)).toString('base64url') : null;
      return {
        status: 200,
        type: 'application/json',
        text: JSON.stringify({
          [list]: all.slice(start, start + size),
          pagination: { has_next_page: next !== null, next_page_cursor: next, next_page_url: null },
          ok: true,
        }),
      };
    }
    const r = await forward(path, body, auth);
    if (path === '/access_codes/get' && r.status === 200) {
      const parsed = JSON.parse(r.text) as Json;
      return {
        ...r,
        text: JSON.stringify({ ...parsed, access_code: view(parsed.access_code as AccessCode, true) }),
      };
    }
    return r;
  }

  const passThrough = (req: IncomingMessage, raw: string, auth: string): Promise<Answer> =>
    fetch(`${upstream}${req.url ?? '/'}`, {
      method: req.method ?? 'GET',
      headers: { 'content-type': 'application/json', authorization: auth },
      ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: raw }),
    }).then(async (r) => ({
      status: r.status,
      type: r.headers.get('content-type') ?? 'application/json',
      text: await r.text(),
    }));

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (d: Buffer) => {
      raw += d.toString();
    });
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const auth = req.headers.authorization ?? '';
      let body: Json;
      try {
        body = raw ? (JSON.parse(raw) as Json) : {};
      } catch {
        body = {};
      }
      // The fake's control routes and anything not a POST pass straight through to the fake.
      const answer =
        req.method !== 'POST' || path.startsWith('/_fake')
          ? passThrough(req, raw, auth)
          : path === '/_sim/locks'
            ? simLocks(raw)
            : handle(path, body, auth);
      answer.then(
        (a) => {
          res.writeHead(a.status, { 'content-type': a.type });
          res.end(a.text);
        },
        () => {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end('{"error":{"type":"simulator_error"}}');
        },
      );
    });
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const call = async (path: string, body: unknown) => {
    const r = await fetch(`${upstream}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SEAM_FAKE_API_KEY}` },
      body: JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`seam fake ${path}: HTTP ${r.status}`);
    return r.json() as Promise<Record<string, unknown>>;
  };
  return {
    url,
    apiKey: SEAM_FAKE_API_KEY,
    async accessCodes(deviceId) {
      const r = await call('/access_codes/list', { device_id: deviceId });
      return r.access_codes as { access_code_id: string; starts_at?: string; ends_at?: string }[];
    },
    async outage(routes) {
      await call('/_fake/simulate_workspace_outage', { workspace_id: WORKSPACE, routes });
    },
    unlocks(deviceId, how) {
      unlockMode.set(deviceId, how);
    },
    remoteUnlockable(deviceId, allowed) {
      if (allowed) noRemote.delete(deviceId);
      else noRemote.add(deviceId);
    },
    unlockAttempts: (deviceId) => attemptCount.get(deviceId) ?? 0,
    codeRules(deviceId, r) {
      rules.set(deviceId, r);
    },
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await fake.stopServer();
    },
  };
}
