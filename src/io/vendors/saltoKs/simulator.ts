/**
 * A Salto KS Connect API simulator: OIDC client-credentials tokens that expire, a site with locks, users,
 * access groups with time schedules and locks, and PINs that Salto generates (the caller cannot choose
 * one; a second PIN request replaces the first). What is known of the real API is in
 * `reference/vendors.md` §2.1; the error body (RFC 7807) is modelled. Lists are a defensive model of what is
 * not documented publicly: `$filter` is ignored (no public evidence that KS honours it) and every list is
 * paged (`$top`, at most 100, and `$skip`), so a client must page and match exactly. The site starts with
 * its administrator as its first user, and staff users with PINs: a client that takes the first item of a
 * list unchecked touches them.
 */
import { randomInt, randomUUID } from 'node:crypto';
import {
  type BaseFaults,
  type SimReply,
  type SimRequest,
  seededLocks,
  startSimServer,
  type VendorSimulator,
} from '../simServer.ts';

export interface SaltoKsSimulatorOptions {
  port?: number;
  host?: string;
  lockCount?: number;
  tokenTtlSeconds?: number;
  /** Staff users (with PINs) the site starts with, after its administrator (default 3). */
  staffUsers?: number;
  /**
   * The grant the client is enabled for: `authorization_code` (what KS enables for partners: tokens come
   * from refresh tokens only) or `client_credentials` (default).
   */
  clientGrants?: 'client_credentials' | 'authorization_code';
  /** The tenant requires an e-mail of every user (profile users). */
  requireEmail?: boolean;
  /**
   * A new user takes a PIN request only this long after it was made (409 before): modelled on a public KS
   * PMS client that waits 2 s before asking (default 0).
   */
  pinReadyAfterMs?: number;
}

export interface SaltoKsFaults extends BaseFaults {
  /** Every API call answers 429 with Retry-After. */
  rateLimited: boolean;
  /** Share of API calls answering 503. */
  errorRate: number;
}

export const SALTO_KS_SIM_DEFAULTS = {
  clientId: 'sim-ks-client',
  clientSecret: 'sim-ks-secret',
  siteId: '5a17a000-0000-4000-8000-000000000001',
} as const;

interface KsLock {
  id: string;
  name: string;
  customer_reference: string;
  online: boolean;
  keypad: boolean;
}
interface KsUser {
  siteUserId: string;
  userId: string;
  alias: string;
  first_name: string;
  last_name: string;
  use_pin: boolean;
  pin: string | null;
  pin_expiry: string | null;
  createdAt: number;
}
interface KsSchedule {
  id: string;
  monday: boolean;
  tuesday: boolean;
  wednesday: boolean;
  thursday: boolean;
  friday: boolean;
  saturday: boolean;
  sunday: boolean;
  start_time: string;
  end_time: string;
  start_date: string;
  end_date: string;
}
interface KsAccessGroup {
  id: string;
  customer_reference: string;
  name: string;
  userIds: Set<string>;
  lockIds: Set<string>;
  schedules: KsSchedule[];
}

export interface SaltoKsState {
  locks: { ref: string; name: string }[];
  credentials: {
    ref: string;
    lockRef: string;
    kind: 'pin';
    name: string;
    validFrom: string;
    validUntil: string;
    /** The PIN Salto generated for the group's user (tests compare it with what the guest got). */
    pin: string | null;
    /** When that PIN lapses, whatever the schedule says. */
    pinExpiry: string | null;
  }[];
  users: number;
  /** Every user of the site, in the site's order (the administrator first). */
  siteUsers: { id: string; alias: string; pin: string | null }[];
}

export interface SaltoKsSimulator extends VendorSimulator<SaltoKsState, SaltoKsFaults> {
  /** Every issued access token expires now (401 until the caller fetches a new one). */
  expireTokens(): void;
  /**
   * What an operator's interactive (authorization-code) login hands over: a refresh token of a new grant.
   * Refresh tokens rotate: each use answers a successor and spends the one used; a spent one presented
   * again is refused and revokes its whole grant (refresh-token reuse detection, OAuth 2.0 Security BCP).
   */
  issueRefreshToken(): string;
  /** Refresh tokens spent so far, and grants revoked for reuse. */
  refreshStats(): { uses: number; revokedGrants: number };
}

/** The site's roles (the names KS's web app shows); a user needs one. */
const ROLES = [
  { id: '5a17a0e0-0000-4000-8000-00000000a001', name: 'Site Admin' },
  { id: '5a17a0e0-0000-4000-8000-00000000a002', name: 'Site Super User' },
  { id: '5a17a0e0-0000-4000-8000-00000000a003', name: 'Site User' },
];
const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const TIME = /^\d{2}:\d{2}:\d{2}$/;

const problem = (status: number, title: string, detail?: string): SimReply => ({
  status,
  contentType: 'application/problem+json',
  body: { type: 'about:blank', title, status, ...(detail ? { detail } : {}) },
});
const ok = (body: unknown, status = 200): SimReply => ({ status, body });
/** The page `$top` / `$skip` ask for (at most 100 items); `$filter` is not applied. */
const PAGE_MAX = 100;
function page<T>(list: T[], q: URLSearchParams): SimReply {
  const top = Math.min(PAGE_MAX, Math.max(1, Number(q.get('$top') ?? PAGE_MAX) || PAGE_MAX));
  const skip = Math.max(0, Number(q.get('$skip') ?? 0) || 0);
  return ok({ items: list.slice(skip, skip + top) });
}
const items = <T>(list: T[]) => ok({ items: list });

export async function startSaltoKsSimulator(opts: SaltoKsSimulatorOptions = {}): Promise<SaltoKsSimulator> {
  const account = SALTO_KS_SIM_DEFAULTS;
  let locks = new Map<string, KsLock>();
  let users = new Map<string, KsUser>();
  let groups = new Map<string, KsAccessGroup>();
  const tokens = new Map<string, number>();
  /** Refresh tokens → their grant (one interactive login); spent ones stay, to catch their reuse. */
  const refreshTokens = new Map<string, string>();
  const spentTokens = new Set<string>();
  const revokedFamilies = new Set<string>();
  let refreshUses = 0;

  /** The seed's locks (`seedLock`), as many as the option says or `/_sim/locks` asked for since. */
  const seeding = seededLocks({
    count: opts.lockCount ?? 10,
    existing: () => locks.size,
    seedOne: seedLock,
    refs: () => [...locks.keys()],
  });

  function reset() {
    locks = new Map();
    users = new Map();
    groups = new Map();
    const seed = (alias: string, first: string, last: string, pin: string) => {
      const u: KsUser = {
        siteUserId: randomUUID(),
        userId: randomUUID(),
        alias,
        first_name: first,
        last_name: last,
        use_pin: true,
        pin,
        pin_expiry: '2030-01-01T00:00:00.000Z',
        createdAt: 0,
      };
      users.set(u.siteUserId, u);
    };
    seed('site-admin', 'Site', 'Administrator', '9170352');
    for (let i = 0; i < (opts.staffUsers ?? 3); i++)
      seed(`staff-${i + 1}`, 'Staff', `Member ${i + 1}`, String(5_000_000 + i * 7919));
    seeding.seed();
  }

  /** Lock `i` of the seed (0-based): "Room 201 + i", its id ending in 1001 + i. */
  function seedLock(i: number) {
    const id = `0e5a17a0-0000-4000-8000-${String(1001 + i).padStart(12, '0')}`;
    locks.set(id, {
      id,
      name: `Room ${201 + i}`,
      customer_reference: `room-${201 + i}`,
      online: true,
      keypad: true,
    });
  }

  /** Either client authentication IdentityServer takes: Basic, or the form's client_id/client_secret. */
  function clientOk(req: SimRequest, form: URLSearchParams): boolean {
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [id, secret] = basic
      ? Buffer.from(basic, 'base64').toString().split(':')
      : [form.get('client_id'), form.get('client_secret')];
    return id === account.clientId && secret === account.clientSecret;
  }

  /**
   * RFC 7009 token revocation (IdentityServer's `/connect/revocation`; modelled, not confirmed for KS): a
   * refresh token revoked ends its whole grant (no refresh token of it works again). Access tokens already
   * issued are self-contained and live until they expire, as JWTs do; an access token given here is dropped.
   * An unknown or already revoked token is answered 200 too, as the RFC says.
   */
  function revocation(req: SimRequest): SimReply {
    const form = new URLSearchParams(req.body);
    if (!clientOk(req, form)) return { status: 401, body: { error: 'invalid_client' } };
    const t = form.get('token');
    if (!t) return { status: 400, body: { error: 'invalid_request' } };
    const family = refreshTokens.get(t);
    if (family !== undefined) revokedFamilies.add(family);
    else tokens.delete(t);
    return { status: 200, body: '' };
  }

  function token(req: SimRequest): SimReply {
    const form = new URLSearchParams(req.body);
    if (!clientOk(req, form)) return { status: 401, body: { error: 'invalid_client' } };
    const grant = form.get('grant_type');
    if (grant === 'client_credentials' && opts.clientGrants === 'authorization_code')
      return { status: 400, body: { error: 'unauthorized_client' } };
    let refresh: string | undefined;
    if (grant === 'refresh_token') {
      const spent = form.get('refresh_token') ?? '';
      const family = refreshTokens.get(spent);
      if (family === undefined || revokedFamilies.has(family))
        return { status: 400, body: { error: 'invalid_grant' } };
      if (spentTokens.has(spent)) {
        // Reuse of a spent token: someone else holds the family's live one. The whole grant is revoked.
        revokedFamilies.add(family);
        return { status: 400, body: { error: 'invalid_grant' } };
      }
      spentTokens.add(spent);
      refresh = randomUUID();
      refreshTokens.set(refresh, family);
      refreshUses++;
    } else if (grant !== 'client_credentials')
      return { status: 400, body: { error: 'unsupported_grant_type' } };
    const ttl = opts.tokenTtlSeconds ?? 3600;
    const access = randomUUID();
    tokens.set(access, Date.now() + ttl * 1000);
    return ok({
      access_token: access,
      expires_in: ttl,
      token_type: 'Bearer',
      scope: 'user_api.full_access offline_access',
      ...(refresh ? { refresh_token: refresh } : {}),
    });
  }

  function userView(u: KsUser) {
    return {
      id: u.siteUserId,
      alias: u.alias,
      use_pin: u.use_pin,
      user: { id: u.userId, first_name: u.first_name, last_name: u.last_name },
    };
  }
  function groupView(g: KsAccessGroup) {
    return { id: g.id, customer_reference: g.customer_reference, name: g.name };
  }

  function api(req: SimRequest, f: SaltoKsFaults): SimReply {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const expiry = tokens.get(bearer);
    if (expiry === undefined || expiry < Date.now())
      return {
        ...problem(401, 'Unauthorized'),
        headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
      };
    if (f.rateLimited) return { ...problem(429, 'Too Many Requests'), headers: { 'retry-after': '1' } };
    if (f.errorRate > 0 && Math.random() < f.errorRate) return problem(503, 'Service Unavailable');

    const parts = req.path.split('/').filter(Boolean); // v1.1, sites, {site}, ...
    if (parts[0] !== 'v1.1' || parts[1] !== 'sites') return problem(404, 'Not Found');
    if (parts.length === 2 && req.method === 'GET') return items([{ id: account.siteId, name: 'Sim hotel' }]);
    if (parts[2] !== account.siteId) return problem(404, 'Not Found', 'site not found');
    const [, , , resource, id, sub, subId] = parts;
    const body = req.body ? (JSON.parse(req.body) as Record<string, unknown>) : {};

    if (resource === 'locks') {
      if (!id && req.method === 'GET') return page([...locks.values()], req.query);
      const lock = id ? locks.get(id) : undefined;
      if (!lock) return problem(404, 'Not Found', 'lock not found');
      if (!sub && req.method === 'GET') return ok(lock);
      return problem(405, 'Method Not Allowed');
    }

    if (resource === 'roles' && !id && req.method === 'GET') return page(ROLES, req.query);

    if (resource === 'users') {
      if (!id && req.method === 'GET') return page([...users.values()].map(userView), req.query);
      if (!id && req.method === 'POST') {
        if (typeof body.last_name !== 'string' || typeof body.first_name !== 'string')
          return problem(400, 'Bad Request', 'first_name and last_name are required');
        const roleIds = Array.isArray(body.role_ids) ? body.role_ids : [];
        if (roleIds.length === 0 || roleIds.some((r) => !ROLES.some((x) => x.id === r)))
          return problem(400, 'Bad Request', 'role_ids must name at least one role of the site');
        if (opts.requireEmail && (typeof body.email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(body.email)))
          return problem(400, 'Bad Request', 'email is required');
        // As the real API: no idempotency; the same call twice is two users.
        const u: KsUser = {
          siteUserId: randomUUID(),
          userId: randomUUID(),
          alias: typeof body.alias === 'string' ? body.alias : '',
          first_name: body.first_name,
          last_name: body.last_name,
          use_pin: body.use_pin === true,
          pin: null,
          pin_expiry: null,
          createdAt: Date.now(),
        };
        users.set(u.siteUserId, u);
        return ok(userView(u), 201);
      }
      const u = id ? users.get(id) : undefined;
      if (!u) return problem(404, 'Not Found', 'user not found');
      if (!sub && req.method === 'DELETE') {
        users.delete(u.siteUserId);
        for (const g of groups.values()) g.userIds.delete(u.userId);
        return { status: 204 };
      }
      if (sub === 'pin' && req.method === 'PUT') {
        if (!u.use_pin) return problem(409, 'Conflict', 'the user does not use a PIN');
        if (Date.now() - u.createdAt < (opts.pinReadyAfterMs ?? 0))
          return problem(409, 'Conflict', 'the user is still being set up');
        const expiry = body.expiry_date;
        if (typeof expiry !== 'string' || !ISO.test(expiry))
          return problem(400, 'Bad Request', 'expiry_date');
        // Modelled: KS refuses a PIN expiry beyond about 350 days from now.
        if (Date.parse(expiry) > Date.now() + 350 * 86_400_000)
          return problem(400, 'Bad Request', 'expiry_date is more than 350 days ahead');
        const taken = new Set([...users.values()].map((x) => x.pin));
        let pin: string;
        do pin = String(randomInt(100000, 10000000));
        while (taken.has(pin));
        u.pin = pin;
        u.pin_expiry = expiry;
        // The body is the PIN as a JSON string, as the real API answers.
        return { status: 200, contentType: 'application/json', body: JSON.stringify(pin) };
      }
      return problem(405, 'Method Not Allowed');
    }

    if (resource === 'access_groups') {
      if (!id && req.method === 'GET') return page([...groups.values()].map(groupView), req.query);
      if (!id && req.method === 'POST') {
        const g: KsAccessGroup = {
          id: randomUUID(),
          customer_reference: typeof body.customer_reference === 'string' ? body.customer_reference : '',
          name: typeof body.name === 'string' ? body.name : '',
          userIds: new Set(),
          lockIds: new Set(),
          schedules: [],
        };
        groups.set(g.id, g);
        return ok(groupView(g), 201);
      }
      const g = id ? groups.get(id) : undefined;
      if (!g) return problem(404, 'Not Found', 'access group not found');
      if (!sub && req.method === 'GET') return ok(groupView(g));
      if (!sub && req.method === 'DELETE') {
        groups.delete(g.id);
        return { status: 204 };
      }
      if (sub === 'users' && req.method === 'PATCH') {
        const add = Array.isArray(body.add_ids) ? body.add_ids.map(String) : [];
        const known = new Set([...users.values()].map((u) => u.userId));
        if (add.some((x) => !known.has(x))) return problem(404, 'Not Found', 'user not found');
        for (const x of add) g.userIds.add(x);
        return { status: 204 };
      }
      if (sub === 'locks' && req.method === 'POST') {
        const lockId = String(body.lock_id ?? '');
        if (!locks.has(lockId)) return problem(404, 'Not Found', 'lock not found');
        if (g.lockIds.has(lockId)) return problem(409, 'Conflict', 'lock already in the access group');
        g.lockIds.add(lockId);
        return ok({ lock_id: lockId }, 201);
      }
      if (sub === 'time_schedules') {
        if (!subId && req.method === 'GET') return items(g.schedules);
        const valid = scheduleOf(body);
        if (typeof valid === 'string') return problem(400, 'Bad Request', valid);
        if (!subId && req.method === 'POST') {
          const s = { ...valid, id: randomUUID() };
          g.schedules.push(s);
          return ok(s, 201);
        }
        const s = g.schedules.find((x) => x.id === subId);
        if (!s) return problem(404, 'Not Found', 'time schedule not found');
        if (req.method === 'PATCH') {
          Object.assign(s, valid);
          return ok(s);
        }
      }
      return problem(405, 'Method Not Allowed');
    }
    return problem(404, 'Not Found');
  }

  function state(): SaltoKsState {
    const byUserId = new Map([...users.values()].map((u) => [u.userId, u]));
    return {
      locks: [...locks.values()].map((l) => ({ ref: l.id, name: l.name })),
      credentials: [...groups.values()].flatMap((g) => {
        const s = g.schedules[0];
        const user = [...g.userIds].map((x) => byUserId.get(x)).find(Boolean);
        if (!s) return [];
        return [...g.lockIds].map((lockRef) => ({
          ref: g.id,
          lockRef,
          kind: 'pin' as const,
          name: g.customer_reference,
          validFrom: s.start_date,
          validUntil: s.end_date,
          pin: user?.pin ?? null,
          pinExpiry: user?.pin_expiry ?? null,
        }));
      }),
      users: users.size,
      siteUsers: [...users.values()].map((u) => ({ id: u.siteUserId, alias: u.alias, pin: u.pin })),
    };
  }

  const server = await startSimServer<SaltoKsState, SaltoKsFaults>({
    port: opts.port,
    host: opts.host,
    initialFaults: { latencyMs: 0, outage: false, rateLimited: false, errorRate: 0 },
    reset,
    state,
    setLocks: seeding.setLocks,
    handle(req, f) {
      if (req.path === '/connect/token' && req.method === 'POST') return token(req);
      if (req.path === '/connect/revocation' && req.method === 'POST') return revocation(req);
      return api(req, f);
    },
  });
  return {
    ...server,
    expireTokens: () => {
      for (const k of tokens.keys()) tokens.set(k, 0);
    },
    issueRefreshToken: () => {
      const t = randomUUID();
      refreshTokens.set(t, randomUUID());
      return t;
    },
    refreshStats: () => ({ uses: refreshUses, revokedGrants: revokedFamilies.size }),
  };
}

/** A time schedule body, or what is wrong with it. */
function scheduleOf(body: Record<string, unknown>): Omit<KsSchedule, 'id'> | string {
  for (const d of DAYS) if (typeof body[d] !== 'boolean') return `${d} must be a boolean`;
  const { start_time, end_time, start_date, end_date } = body;
  if (typeof start_time !== 'string' || !TIME.test(start_time)) return 'start_time must be HH:MM:SS';
  if (typeof end_time !== 'string' || !TIME.test(end_time)) return 'end_time must be HH:MM:SS';
  if (typeof start_date !== 'string' || !ISO.test(start_date)) return 'start_date must be ISO-8601 UTC';
  if (typeof end_date !== 'string' || !ISO.test(end_date)) return 'end_date must be ISO-8601 UTC';
  if (Date.parse(end_date) <= Date.parse(start_date)) return 'end_date must be after start_date';
  return {
    monday: body.monday === true,
    tuesday: body.tuesday === true,
    wednesday: body.wednesday === true,
    thursday: body.thursday === true,
    friday: body.friday === true,
    saturday: body.saturday === true,
    sunday: body.sunday === true,
    start_time,
    end_time,
    start_date,
    end_date,
  };
}
