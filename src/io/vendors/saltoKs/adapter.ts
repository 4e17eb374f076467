/**
 * Salto KS adapter over the Connect API. A grant is a site user (tag-less, PIN only) in an access group
 * holding the door and a time schedule for the stay. Salto generates the PIN; the adapter returns it so
 * the runtime can seal it. Validity changes in place by patching the schedule; revoke deletes the access
 * group and the user. Idempotency: user alias and group reference are the operation's credential name, so
 * a re-run finds what an earlier run made (Salto itself would make a second).
 */
import type { Clock } from '../../../ids.ts';
import type { RotatingSecrets } from '../adapterResolver.ts';
import type { EgressPolicy } from '../egress.ts';
import { createVendorHttp, failureOfStatus, retryAfterMs } from '../http.ts';
import {
  credentialName,
  type IssueRequest,
  type IssueResult,
  type LockAdapter,
  type ModifyValidityRequest,
  type ModifyValidityResult,
  type RevokeRequest,
  type VendorCapabilities,
  VendorError,
  type VendorLock,
} from '../port.ts';

export interface SaltoKsConfig {
  /** The Connect API origin (…/v1.1 is appended). */
  baseUrl: string;
  /** The IdentityServer origin; the API origin when absent (simulated mode serves both). */
  identityUrl?: string;
  clientId: string;
  clientSecret: string;
  siteId: string;
  /**
   * Present on authorization-code tenants (the flow KS enables for partners): the refresh token's secret.
   * Its value here is only the one the adapter was built with; the adapter spends the stored one through
   * `secrets.rotate` and stores its successor. Absent: client credentials.
   */
  refreshToken?: string;
  /**
   * The role guests' users get. Absent: the site's role named "Site User" (KS asks a role of every user;
   * public PMS clients send one).
   */
  guestRoleId?: string;
  /**
   * Where the tenant requires an e-mail of every user: the domain of the addresses the adapter makes up
   * (`<credential name>@<domain>`, an address the hotel controls; the guest's own is never sent).
   */
  guestEmailDomain?: string;
}

export interface SaltoKsAdapterDeps {
  /** Live mode: where calls may connect (egress.ts). */
  egress?: EgressPolicy;
  config: SaltoKsConfig;
  clock: Clock;
  timeoutMs: number;
  /** The property's rotating secrets (live mode): where the refresh token lives between uses. */
  secrets?: RotatingSecrets;
}

export const capabilities: VendorCapabilities = {
  vendor: 'salto-ks',
  kinds: ['pin'],
  updateValidityInPlace: true,
  // Remote opening needs a one-time code derived from the IQ's secret, which the service does not hold.
  remoteUnlock: false,
  // The Connect API's battery field is not documented publicly.
  battery: false,
  callerChosenPin: false,
  accessRecords: false,
  cardNumbers: false,
  mobileKeyRecipients: false,
  // A working KS PMS client sends guests the PIN followed by '#' (no Salto document says so: modelled).
  pinEntry: 'Type the PIN, then #.',
};

/**
 * The PIN's own expiry lies this far past the stay: the access group's schedule is what bounds access,
 * and a later PIN request would replace the guest's PIN, so an extension must not outlive it.
 */
const PIN_EXPIRY_MARGIN_MS = 366 * 86_400_000;
/**
 * KS refuses a PIN expiry much beyond a year from now (about 350 days: modelled from a working KS PMS
 * integration, no public document): the margin above is capped there, and a stay ending past the cap is
 * refused rather than given a PIN that would lapse during it.
 */
const PIN_EXPIRY_CAP_MS = 349 * 86_400_000;

interface KsLock {
  id: string;
  name?: string;
  customer_reference?: string;
  online?: boolean;
}
/**
 * The access group's name carries the PIN's expiry: KS keeps it with the credential it bounds (no public
 * field reads a user's PIN expiry back), so a later validity change knows when the PIN lapses.
 */
const groupName = (name: string, pinExpiry: Date) => `${name} pin-expiry ${pinExpiry.toISOString()}`;
function pinExpiryOf(g: KsAccessGroup): number | null {
  const at =
    typeof g.name === 'string'
      ? / pin-expiry (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)$/.exec(g.name)?.[1]
      : undefined;
  const ms = at === undefined ? Number.NaN : Date.parse(at);
  // Groups made before the expiry was recorded: unknown, the schedule is changed as before.
  return Number.isNaN(ms) ? null : ms;
}

interface KsSiteUser {
  id: string;
  alias?: string;
  user: { id: string };
}
interface KsRole {
  id: string;
  name?: string;
}
interface KsAccessGroup {
  id: string;
  customer_reference?: string;
  name?: string;
}
interface KsSchedule {
  id: string;
}
interface KsProblem {
  title?: string;
  detail?: string;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The resource a path names, for error details (no ids, no query). */
const resourceOf = (path: string) => path.split(/[/?]/)[1] ?? '';

/**
 * A user just made may not take a PIN request at once (a public KS PMS client waits 2 s before asking; KS
 * gives no reason): asked again this often, for at most this long, before the issue fails BUSY (retried).
 */
const PIN_NOT_READY_RETRY_MS = 250;
const PIN_NOT_READY_ATTEMPTS = 16;

/** Items asked per page, and the most pages read of one list. */
const PAGE = 100;
const MAX_PAGES = 1000;

export function createSaltoKsAdapter(deps: SaltoKsAdapterDeps): LockAdapter {
  const { config, clock, timeoutMs } = deps;
  const http = createVendorHttp({ timeoutMs, ...(deps.egress ? { egress: deps.egress } : {}) });
  const site = `${config.baseUrl}/v1.1/sites/${encodeURIComponent(config.siteId)}`;
  let token: { access: string; expiresAt: number } | null = null;
  let tokenRequest: Promise<string> | null = null;

  interface TokenAnswer {
    access_token?: unknown;
    refresh_token?: unknown;
    expires_in?: unknown;
    error?: unknown;
  }

  async function revoke(refreshToken: string): Promise<void> {
    const basic = Buffer.from(`${config.clientId}:${config.clientSecret}`).toString('base64');
    const res = await http.send(
      'salto-ks revocation',
      `${config.identityUrl ?? config.baseUrl}/connect/revocation`,
      {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token' }).toString(),
      },
    );
    if (res.status === 200) return;
    if (res.status >= 500) throw new VendorError('OFFLINE', `salto-ks revocation HTTP ${res.status}`);
    throw new VendorError('AUTH', `salto-ks revocation HTTP ${res.status}`);
  }

  async function tokenCall(form: Record<string, string>): Promise<TokenAnswer> {
    const basic = Buffer.from(`${config.clientId}:${config.clientSecret}`).toString('base64');
    const res = await http.send('salto-ks token', `${config.identityUrl ?? config.baseUrl}/connect/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    const body = (res.body ?? {}) as TokenAnswer;
    if (res.status === 200 && typeof body.access_token === 'string') return body;
    const error = typeof body.error === 'string' ? body.error.slice(0, 40) : '';
    if (res.status >= 500) throw new VendorError('OFFLINE', `salto-ks token HTTP ${res.status}`);
    if (error === 'invalid_grant' && form.grant_type === 'refresh_token')
      throw new VendorError(
        'AUTH',
        'salto-ks refused the refresh token (spent, revoked or expired): an operator must log in again ' +
          'and store the new refresh token (PUT …/vendor-adapters/salto-ks/secrets/<name>)',
      );
    throw new VendorError('AUTH', `salto-ks token HTTP ${res.status} ${error}`.trim());
  }

  /**
   * Authorization-code tenants: the stored refresh token is spent and its successor stored in one step
   * under the secret's lock, so processes sharing a property never spend the same token twice (KS's
   * IdentityServer rotates refresh tokens; a spent one is refused). Client-credential tenants: one call.
   */
  /**
   * A successor KS gave whose storing failed (the commit, or the process's connection): stored before
   * anything else is spent, since the token stored is spent already and presenting it again would revoke the
   * grant (a crash here loses it: an operator logs in again).
   */
  let unsaved: string | null = null;

  async function fetchToken(): Promise<string> {
    let answer: TokenAnswer;
    if (config.refreshToken === undefined) {
      answer = await tokenCall({ grant_type: 'client_credentials', scope: 'user_api.full_access' });
    } else {
      const secrets = deps.secrets;
      if (!secrets)
        throw new VendorError('AUTH', 'salto-ks refresh tokens need the property secret store (live mode)');
      const pending = unsaved;
      if (pending !== null) {
        await secrets.rotate('refreshToken', async () => pending);
        unsaved = null;
      }
      let got: TokenAnswer | null = null;
      await secrets.rotate('refreshToken', async (refresh) => {
        got = await tokenCall({ grant_type: 'refresh_token', refresh_token: refresh });
        // An identity server that does not rotate answers without a new one: the old one stays.
        const next = typeof got.refresh_token === 'string' ? got.refresh_token : refresh;
        unsaved = next;
        return next;
      });
      unsaved = null;
      if (got === null) throw new VendorError('BAD_ANSWER', 'salto-ks token: no answer');
      answer = got;
    }
    // Cached only once the refresh token it came with is stored.
    const access = answer.access_token as string;
    const ttl = typeof answer.expires_in === 'number' ? answer.expires_in : 3600;
    token = { access, expiresAt: clock.now().getTime() + ttl * 1000 };
    return access;
  }

  async function accessToken(force: boolean): Promise<string> {
    if (!force && token && token.expiresAt - 60_000 > clock.now().getTime()) return token.access;
    tokenRequest ??= fetchToken().finally(() => {
      tokenRequest = null;
    });
    return tokenRequest;
  }

  /** One API call; a refused token is fetched again once. Resolves with the body of a 2xx. */
  async function call<T>(method: Method, path: string, body?: unknown): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const res = await http.send(`salto-ks ${method} ${resourceOf(path)}`, `${site}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${await accessToken(attempt > 0)}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (res.status === 401 && attempt === 0) continue;
      if (res.status >= 200 && res.status < 300) return res.body as T;
      const p = (res.body ?? {}) as KsProblem;
      const after = retryAfterMs(res.headers['retry-after'], clock.now().getTime());
      throw new VendorError(
        failureOfStatus(res.status),
        `salto-ks ${method} ${resourceOf(path)} HTTP ${res.status} ${p.detail ?? p.title ?? ''}`.trim(),
        after === undefined ? {} : { retryAfterMs: after },
      );
    }
  }

  /**
   * Every item of a list, page by page (`$top`/`$skip`). `$filter` goes along as a hint (fewer pages where KS
   * applies it), but nothing is taken on its word: there is no public evidence that KS honours it, and the
   * first user of a site is its administrator. Callers match the exact reference.
   */
  async function* listAll<T>(path: string, hint?: { field: string; value: string }): AsyncGenerator<T> {
    const filter = hint ? `&$filter=${encodeURIComponent(`${hint.field} eq '${hint.value}'`)}` : '';
    for (let skip = 0, pages = 0; pages < MAX_PAGES; pages++, skip += PAGE) {
      const page = await call<{ items: T[] }>('GET', `${path}?$top=${PAGE}&$skip=${skip}${filter}`);
      if (!Array.isArray(page.items)) throw new VendorError('BAD_ANSWER', `salto-ks ${path}: no items list`);
      yield* page.items;
      if (page.items.length < PAGE) return;
    }
  }
  async function find<T>(path: string, field: string, value: string, of: (x: T) => unknown) {
    for await (const x of listAll<T>(path, { field, value })) if (of(x) === value) return x;
    return undefined;
  }
  const findUser = (name: string) => find<KsSiteUser>('/users', 'alias', name, (u) => u.alias);
  const findGroup = (name: string) =>
    find<KsAccessGroup>('/access_groups', 'customer_reference', name, (g) => g.customer_reference);

  /** Every day, all day, between the dates: the stay. */
  const schedule = (from: Date, until: Date) => ({
    monday: true,
    tuesday: true,
    wednesday: true,
    thursday: true,
    friday: true,
    saturday: true,
    sunday: true,
    start_time: '00:00:00',
    end_time: '23:59:59',
    start_date: from.toISOString(),
    end_date: until.toISOString(),
  });

  async function setSchedule(groupId: string, from: Date, until: Date, lookFirst: boolean): Promise<void> {
    const existing = lookFirst
      ? (await call<{ items: KsSchedule[] }>('GET', `/access_groups/${groupId}/time_schedules`)).items[0]
      : undefined;
    if (existing)
      await call('PATCH', `/access_groups/${groupId}/time_schedules/${existing.id}`, schedule(from, until));
    else await call('POST', `/access_groups/${groupId}/time_schedules`, schedule(from, until));
  }

  let guestRole: Promise<string> | null = null;
  /** The configured guest role, or the site's "Site User" role (looked up once). */
  function guestRoleId(): Promise<string> {
    if (config.guestRoleId) return Promise.resolve(config.guestRoleId);
    guestRole ??= (async () => {
      for await (const r of listAll<KsRole>('/roles'))
        if (typeof r.name === 'string' && r.name.trim().toLowerCase() === 'site user') return r.id;
      throw new VendorError(
        'INVALID',
        'salto-ks site has no role named "Site User": set guestRoleId in the adapter config',
      );
    })().catch((e: unknown) => {
      guestRole = null;
      throw e;
    });
    return guestRole;
  }

  /** Salto's PIN for the user; a user still being set up (409) is asked again, for a while. */
  async function requestPin(userId: string, expiry: Date): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call<unknown>('PUT', `/users/${userId}/pin`, { expiry_date: expiry.toISOString() });
      } catch (e) {
        // Salto chooses the PIN: a conflict here is never a PIN clash, only a user not ready for one.
        if (!(e instanceof VendorError && e.failure === 'DUPLICATE')) throw e;
        if (attempt >= PIN_NOT_READY_ATTEMPTS)
          throw new VendorError('BUSY', 'salto-ks user not ready for a PIN yet');
        await new Promise((r) => setTimeout(r, PIN_NOT_READY_RETRY_MS));
      }
    }
  }

  const toLock = (l: KsLock): VendorLock => ({
    ref: l.id,
    name: l.name ?? l.customer_reference ?? l.id,
    battery: null,
    online: l.online ?? null,
  });

  return {
    vendor: 'salto-ks',
    capabilities: () => capabilities,

    async listLocks() {
      const out: VendorLock[] = [];
      for await (const l of listAll<KsLock>('/locks')) out.push(toLock(l));
      return out;
    },

    async getLock(ref) {
      return toLock(await call<KsLock>('GET', `/locks/${encodeURIComponent(ref)}`));
    },

    async issueCredential(req: IssueRequest): Promise<IssueResult> {
      if (req.kind !== 'pin')
        throw new VendorError('NOT_SUPPORTED', `salto-ks adapter issues pins, not ${req.kind}`);
      const name = credentialName(req.operationId);
      // Refused before anything is made at Salto (a user made first would be left behind).
      const expiry = Math.min(
        req.validUntil.getTime() + PIN_EXPIRY_MARGIN_MS,
        clock.now().getTime() + PIN_EXPIRY_CAP_MS,
      );
      if (expiry < req.validUntil.getTime())
        throw new VendorError(
          'INVALID',
          'salto-ks PINs last at most about 350 days from now; the stay ends later',
        );
      const user =
        (req.lookupFirst ? await findUser(name) : undefined) ??
        (await call<KsSiteUser>('POST', '/users', {
          first_name: 'Guest',
          last_name: name,
          alias: name,
          role_ids: [await guestRoleId()],
          ...(config.guestEmailDomain ? { email: `${name}@${config.guestEmailDomain}` } : {}),
          blocked: false,
          use_pin: true,
        }));
      const group =
        (req.lookupFirst ? await findGroup(name) : undefined) ??
        (await call<KsAccessGroup>('POST', '/access_groups', {
          name: groupName(name, new Date(expiry)),
          customer_reference: name,
        }));
      await setSchedule(group.id, req.validFrom, req.validUntil, req.lookupFirst);
      await call('PATCH', `/access_groups/${group.id}/users`, { add_ids: [user.user.id] });
      try {
        await call('POST', `/access_groups/${group.id}/locks`, { lock_id: req.lockRef });
      } catch (e) {
        // Already in the group: an earlier run of this operation got this far.
        if (!(e instanceof VendorError && e.failure === 'DUPLICATE')) throw e;
      }
      const pin = await requestPin(user.id, new Date(expiry));
      if (typeof pin !== 'string' || !/^\d{4,10}$/.test(pin))
        throw new VendorError('INVALID', 'salto-ks answered the PIN request without a PIN');
      return { vendorRef: group.id, pin };
    },

    async modifyValidity(req: ModifyValidityRequest): Promise<ModifyValidityResult> {
      const groupId = req.vendorRef ?? (await findGroup(credentialName(req.issueOperationId)))?.id;
      if (!groupId) throw new VendorError('NOT_FOUND', 'no access group of this credential');
      // The PIN has its own expiry: a stay extended past it needs a new PIN, which only an issue gives.
      const pinExpiry = pinExpiryOf(await call<KsAccessGroup>('GET', `/access_groups/${groupId}`));
      if (pinExpiry !== null && req.validUntil.getTime() > pinExpiry) return { outcome: 'reissue_required' };
      await setSchedule(groupId, req.validFrom, req.validUntil, true);
      return { outcome: 'modified', vendorRef: groupId };
    },

    async revokeCredential(req: RevokeRequest) {
      const name = credentialName(req.issueOperationId);
      const gone = (e: unknown) => {
        if (!(e instanceof VendorError && e.failure === 'NOT_FOUND')) throw e;
      };
      const groupId = req.vendorRef ?? (await findGroup(name))?.id;
      if (groupId) await call('DELETE', `/access_groups/${groupId}`).catch(gone);
      const user = await findUser(name);
      if (user) await call('DELETE', `/users/${user.id}`).catch(gone);
    },

    async remoteUnlock() {
      throw new VendorError('NOT_SUPPORTED', 'salto-ks remote opening needs an IQ one-time code');
    },

    async getBattery() {
      return null;
    },

    async listAccessRecords() {
      throw new VendorError('NOT_SUPPORTED', 'salto-ks access records are not read yet');
    },

    async health() {
      await call('GET', '/locks');
    },

    /**
     * The refresh token is revoked at KS (RFC 7009, under the secret's lock): its grant ends, so no copy of
     * any of its refresh tokens works again (an access token already issued lives out its hour; this adapter
     * forgets its own). Client-credential tenants
     * have nothing of their own to revoke (the client secret is the operator's to rotate in the KS portal).
     */
    async retireAccess() {
      if (config.refreshToken === undefined) return [];
      const secrets = deps.secrets;
      if (!secrets)
        throw new VendorError('AUTH', 'salto-ks refresh tokens need the property secret store (live mode)');
      const live = unsaved;
      await secrets.rotate('refreshToken', async (stored) => {
        await revoke(live ?? stored);
        return stored;
      });
      unsaved = null;
      token = null;
      return ['refreshToken'];
    },
  };
}
