/**
 * Salto KS adapter over the Connect API. A grant is a site user (tag-less, PIN only) in an access group
 * holding the door and a time schedule for the stay. Salto generates the PIN; the adapter returns it so
 * the runtime can seal it. Validity changes in place by patching the schedule; revoke deletes the access
 * group and the user. Idempotency: user alias and group reference are the operation's credential name, so
 * a re-run finds what an earlier run made (Salto itself would make a second).
 */
import type { Clock } from '../../../ids.ts';
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
}

export interface SaltoKsAdapterDeps {
  /** Live mode: where calls may connect (egress.ts). */
  egress?: EgressPolicy;
  config: SaltoKsConfig;
  clock: Clock;
  timeoutMs: number;
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
interface KsSiteUser {
  id: string;
  alias?: string;
  user: { id: string };
}
interface KsAccessGroup {
  id: string;
  customer_reference?: string;
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

/** Items asked per page, and the most pages read of one list. */
const PAGE = 100;
const MAX_PAGES = 1000;

export function createSaltoKsAdapter(deps: SaltoKsAdapterDeps): LockAdapter {
  const { config, clock, timeoutMs } = deps;
  const http = createVendorHttp({ timeoutMs, ...(deps.egress ? { egress: deps.egress } : {}) });
  const site = `${config.baseUrl}/v1.1/sites/${encodeURIComponent(config.siteId)}`;
  let token: { access: string; expiresAt: number } | null = null;
  let tokenRequest: Promise<string> | null = null;

  async function fetchToken(): Promise<string> {
    const basic = Buffer.from(`${config.clientId}:${config.clientSecret}`).toString('base64');
    const res = await http.send('salto-ks token', `${config.identityUrl ?? config.baseUrl}/connect/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'user_api.full_access',
      }).toString(),
    });
    const body = res.body as { access_token?: string; expires_in?: number; error?: string } | null;
    if (res.status !== 200 || !body?.access_token) {
      const failure = res.status >= 500 ? 'OFFLINE' : 'AUTH';
      throw new VendorError(failure, `salto-ks token HTTP ${res.status} ${body?.error ?? ''}`.trim());
    }
    token = {
      access: body.access_token,
      expiresAt: clock.now().getTime() + (body.expires_in ?? 3600) * 1000,
    };
    return body.access_token;
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
      const user =
        (req.lookupFirst ? await findUser(name) : undefined) ??
        (await call<KsSiteUser>('POST', '/users', {
          first_name: 'Guest',
          last_name: name,
          alias: name,
          role_ids: [],
          blocked: false,
          use_pin: true,
        }));
      const group =
        (req.lookupFirst ? await findGroup(name) : undefined) ??
        (await call<KsAccessGroup>('POST', '/access_groups', { name, customer_reference: name }));
      await setSchedule(group.id, req.validFrom, req.validUntil, req.lookupFirst);
      await call('PATCH', `/access_groups/${group.id}/users`, { add_ids: [user.user.id] });
      try {
        await call('POST', `/access_groups/${group.id}/locks`, { lock_id: req.lockRef });
      } catch (e) {
        // Already in the group: an earlier run of this operation got this far.
        if (!(e instanceof VendorError && e.failure === 'DUPLICATE')) throw e;
      }
      const expiry = Math.min(
        req.validUntil.getTime() + PIN_EXPIRY_MARGIN_MS,
        clock.now().getTime() + PIN_EXPIRY_CAP_MS,
      );
      if (expiry < req.validUntil.getTime())
        throw new VendorError(
          'INVALID',
          'salto-ks PINs last at most about 350 days from now; the stay ends later',
        );
      const pin = await call<string>('PUT', `/users/${user.id}/pin`, {
        expiry_date: new Date(expiry).toISOString(),
      });
      if (typeof pin !== 'string' || !/^\d{4,10}$/.test(pin))
        throw new VendorError('INVALID', 'salto-ks answered the PIN request without a PIN');
      return { vendorRef: group.id, pin };
    },

    async modifyValidity(req: ModifyValidityRequest): Promise<ModifyValidityResult> {
      const groupId = req.vendorRef ?? (await findGroup(credentialName(req.issueOperationId)))?.id;
      if (!groupId) throw new VendorError('NOT_FOUND', 'no access group of this credential');
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
  };
}
