/**
 * TTLock adapter over the Open API v3. PINs are custom passcodes added through the gateway (`addType=2`).
 * Idempotency: each passcode is named after its operation id, so a repeated run finds the one it made
 * instead of adding a second (TTLock itself would add a second).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../../ids.ts';
import type { EgressPolicy } from '../egress.ts';
import { createVendorHttp } from '../http.ts';
import {
  type AccessRecord,
  type IssueRequest,
  type LockAdapter,
  type ModifyValidityRequest,
  type ModifyValidityResult,
  type RevokeRequest,
  credentialName,
  type VendorCapabilities,
  VendorError,
  type VendorLock,
} from '../port.ts';
import {
  fromTtlock,
  isWifiLock,
  POWER_SAVING,
  TtlockVendorError,
  WIFI_NOT_CONFIGURED,
  isTokenError,
  isTtlockError,
  type TtlockLock,
  type TtlockPage,
  type TtlockCard,
  type TtlockEkey,
  type TtlockPasscode,
  type TtlockRecord,
  recordMethod,
  type TtlockToken,
} from './wire.ts';

export interface TtlockConfig {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  username: string;
  /** Plaintext; sent only as its md5, as the API requires. */
  password: string;
}

export interface TtlockAdapterDeps {
  /** Live mode: where calls may connect (egress.ts). */
  egress?: EgressPolicy;
  config: TtlockConfig;
  clock: Clock;
  timeoutMs: number;
}

export const capabilities: VendorCapabilities = {
  vendor: 'ttlock',
  kinds: ['pin', 'card', 'mobile_key'],
  updateValidityInPlace: true,
  remoteUnlock: true,
  battery: true,
  callerChosenPin: true,
  accessRecords: true,
  cardNumbers: true,
  mobileKeyRecipients: true,
};

/** The passcode name carrying the operation id (TTLock names are free text; keep them short). */
/** The passcode's name at TTLock (`keyboardPwdName`): the shared credential name. */
export const passcodeName = credentialName;

const EKEY_DELETED = '110408';

/** One TTLock credential kind's calls (ids are TTLock's numeric ids). */
interface CredentialApi {
  what: string;
  find(lock: number, name: string): Promise<number | undefined>;
  add(lock: number, name: string, req: IssueRequest): Promise<number>;
  change(lock: number, id: number, from: Date, until: Date): Promise<unknown>;
  remove(lock: number, id: number): Promise<unknown>;
}

/** No list is read past this many pages, whatever the answers say. */
const MAX_PAGES = 1000;

/**
 * A lock checks a passcode's window against its own clock, and a drifted clock (or a wrong time zone)
 * refuses valid codes (TTLock's lock-time page). Before writing to a lock, its clock is read at most this
 * often, and set to the current time when it is further off than the tolerance.
 */
const CLOCK_CHECK_EVERY_MS = 6 * 3_600_000;
const CLOCK_TOLERANCE_MS = 60_000;
const CLOCK_RECHECK_AFTER_FAILURE_MS = 10 * 60_000;

export function createTtlockAdapter(deps: TtlockAdapterDeps): LockAdapter {
  const { config, clock, timeoutMs } = deps;
  const http = createVendorHttp({ timeoutMs, ...(deps.egress ? { egress: deps.egress } : {}) });
  let token: { access: string; refresh: string; expiresAt: number } | null = null;
  let tokenRequest: Promise<string> | null = null;

  async function post(path: string, params: Record<string, string | number>): Promise<unknown> {
    const body = new URLSearchParams(
      Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]),
    ).toString();
    const res = await http.send(`ttlock ${path}`, `${config.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    if (res.status === 429) throw new VendorError('RATE_LIMITED', `ttlock ${path} HTTP 429`);
    if (res.status >= 500) throw new VendorError('OFFLINE', `ttlock ${path} HTTP ${res.status}`);
    if (typeof res.body !== 'object' || res.body === null)
      throw new VendorError('OFFLINE', `ttlock ${path} answered with a body that is not JSON`);
    return res.body;
  }

  async function fetchToken(): Promise<string> {
    const params: Record<string, string> = token
      ? {
          client_id: config.clientId,
          client_secret: config.clientSecret,
          grant_type: 'refresh_token',
          refresh_token: token.refresh,
        }
      : {
          client_id: config.clientId,
          client_secret: config.clientSecret,
          grant_type: 'password',
          username: config.username,
          password: createHash('md5').update(config.password).digest('hex'),
        };
    const body = await post('/oauth2/token', params);
    if (isTtlockError(body) && token) {
      token = null; // the refresh token itself was refused: start over with the password grant
      return fetchToken();
    }
    if (isTtlockError(body)) throw fromTtlock(body);
    const t = body as TtlockToken;
    token = {
      access: t.access_token,
      refresh: t.refresh_token,
      expiresAt: clock.now().getTime() + t.expires_in * 1000,
    };
    return t.access_token;
  }

  async function accessToken(forceRefresh = false): Promise<string> {
    if (!forceRefresh && token && token.expiresAt - 60_000 > clock.now().getTime()) return token.access;
    // One token request at a time, shared by every caller waiting for it.
    tokenRequest ??= fetchToken().finally(() => {
      tokenRequest = null;
    });
    return tokenRequest;
  }

  async function call<T>(path: string, params: Record<string, string | number>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const access = await accessToken(attempt > 0);
      const body = await post(path, {
        clientId: config.clientId,
        accessToken: access,
        date: clock.now().getTime(),
        ...params,
      });
      if (isTtlockError(body)) {
        if (isTokenError(body.errcode) && attempt === 0) continue;
        throw fromTtlock(body, clock.now().getTime());
      }
      return body as T;
    }
  }

  const lockId = (ref: string) => {
    if (!/^\d+$/.test(ref)) throw new VendorError('INVALID', 'a TTLock lock reference is its numeric lockId');
    return Number(ref);
  };

  /**
   * Whether a page is the last to ask for: past the count the answer gives, an empty page, or an answer whose
   * count is not a number (a page count TTLock did not send must not make a loop that never ends).
   */
  const lastPage = (page: TtlockPage<unknown>, pageNo: number) =>
    !Number.isFinite(page.pages) || pageNo >= page.pages || pageNo >= MAX_PAGES || page.list.length === 0;

  /** `listKeyboardPwd`'s status of a passcode the gateway could not write to its lock. */
  const PASSCODE_ADD_FAILED = 5;

  /** When each lock's clock is next due a check (a failed check is tried again sooner). */
  const clockDueAt = new Map<number, number>();
  /**
   * Sets the lock's clock right if it has drifted (gateway and WiFi locks; `queryDate` / `updateDate`).
   * Best effort: a lock that cannot be reached now is checked again next time, and the write that follows
   * says for itself whether the lock can be reached.
   */
  async function keepLockClock(lock: number): Promise<void> {
    const now = clock.now().getTime();
    if (now < (clockDueAt.get(lock) ?? Number.NEGATIVE_INFINITY)) return;
    try {
      const { date } = await call<{ date?: unknown }>('/v3/lock/queryDate', { lockId: lock });
      if (typeof date === 'number' && Math.abs(date - clock.now().getTime()) > CLOCK_TOLERANCE_MS)
        await call('/v3/lock/updateDate', { lockId: lock });
      clockDueAt.set(lock, now + CLOCK_CHECK_EVERY_MS);
    } catch (e) {
      if (!(e instanceof VendorError)) throw e;
      // Not reachable now (asleep, offline): not asked again on every retry of the write.
      clockDueAt.set(lock, now + CLOCK_RECHECK_AFTER_FAILURE_MS);
    }
  }

  /** The first page of a search by name (passcodes and cards; TTLock filters by `searchStr`). */
  async function searchByName<T>(path: string, lock: number, name: string): Promise<T[]> {
    const page = await call<TtlockPage<T>>(path, {
      lockId: lock,
      pageNo: 1,
      pageSize: 200,
      orderBy: 1,
      searchStr: name,
    });
    return page.list;
  }

  const window = (from: Date, until: Date) => ({ startDate: from.getTime(), endDate: until.getTime() });

  /**
   * How each kind lives at TTLock: found by its name (the operation's credential name), added, given a
   * new period, deleted. Gateway operations (`…Type: 2`) reach the lock at once; eKeys live in the cloud.
   */
  const kinds: Record<'pin' | 'card' | 'mobile_key', CredentialApi> = {
    pin: {
      what: 'passcode',
      find: async (lock, name) =>
        (await searchByName<TtlockPasscode>('/v3/lock/listKeyboardPwd', lock, name)).find(
          (p) => p.keyboardPwdName === name,
        )?.keyboardPwdId,
      add: async (lock, name, req) => {
        if (!req.pin) throw new VendorError('INVALID', 'a TTLock passcode needs a PIN');
        await keepLockClock(lock);
        const add = (addType: 2 | 4) =>
          call<{ keyboardPwdId: number }>('/v3/keyboardPwd/add', {
            lockId: lock,
            keyboardPwd: req.pin ?? '',
            keyboardPwdName: name,
            keyboardPwdType: 3,
            ...window(req.validFrom, req.validUntil),
            addType,
          });
        try {
          return (await add(2)).keyboardPwdId;
        } catch (e) {
          // A WiFi lock in power-saving mode takes the passcode asynchronously; should that fail, TTLock
          // posts notice 4, which the service checks against the passcode list (credentialPresent).
          if (!(e instanceof TtlockVendorError && e.errcode === POWER_SAVING)) throw e;
          return (await add(4)).keyboardPwdId;
        }
      },
      // Both dates, or TTLock silently keeps the old window.
      change: async (lock, id, from, until) => {
        await keepLockClock(lock);
        return call('/v3/keyboardPwd/change', {
          lockId: lock,
          keyboardPwdId: id,
          ...window(from, until),
          changeType: 2,
        });
      },
      remove: (lock, id) =>
        call('/v3/keyboardPwd/delete', { lockId: lock, keyboardPwdId: id, deleteType: 2 }),
    },
    card: {
      what: 'card',
      find: async (lock, name) =>
        (await searchByName<TtlockCard>('/v3/identityCard/list', lock, name)).find((c) => c.cardName === name)
          ?.cardId,
      add: async (lock, name, req) => {
        if (!req.cardNumber) throw new VendorError('INVALID', 'a TTLock card needs its card number');
        // The lock checks a card's window against its clock too.
        await keepLockClock(lock);
        // identityCard/add keeps the number as read; readers of the other byte order need
        // addForReversedCardNumber (not configurable yet).
        const r = await call<{ cardId: number }>('/v3/identityCard/add', {
          lockId: lock,
          cardNumber: req.cardNumber,
          cardName: name,
          ...window(req.validFrom, req.validUntil),
          addType: 2,
        });
        return r.cardId;
      },
      change: async (lock, id, from, until) => {
        await keepLockClock(lock);
        return call('/v3/identityCard/changePeriod', {
          lockId: lock,
          cardId: id,
          ...window(from, until),
          changeType: 2,
        });
      },
      remove: (lock, id) => call('/v3/identityCard/delete', { lockId: lock, cardId: id, deleteType: 2 }),
    },
    mobile_key: {
      what: 'eKey',
      find: async (lock, name) => {
        for (let pageNo = 1; ; pageNo++) {
          // orderBy is required by listKey (its documentation and working clients send it).
          const page = await call<TtlockPage<TtlockEkey>>('/v3/lock/listKey', {
            lockId: lock,
            pageNo,
            pageSize: 100,
            orderBy: 1,
          });
          const found = page.list.find((k) => k.keyName === name && k.keyStatus !== EKEY_DELETED);
          if (found || lastPage(page, pageNo)) return found?.keyId;
        }
      },
      add: async (lock, name, req) => {
        if (!req.recipient)
          throw new VendorError('INVALID', "a TTLock eKey needs the guest's TTLock account");
        const r = await call<{ keyId: number }>('/v3/key/send', {
          lockId: lock,
          receiverUsername: req.recipient,
          keyName: name,
          ...window(req.validFrom, req.validUntil),
          // No remote unlock from the guest's app; no account is created for an unknown receiver.
          remoteEnable: 2,
          createUser: 2,
        });
        return r.keyId;
      },
      change: (_lock, id, from, until) => call('/v3/key/changePeriod', { keyId: id, ...window(from, until) }),
      remove: (_lock, id) => call('/v3/key/delete', { keyId: id }),
    },
  };

  const apiFor = (kind: string): CredentialApi => {
    const api = kinds[kind as keyof typeof kinds];
    if (!api) throw new VendorError('NOT_SUPPORTED', `ttlock adapter cannot issue ${kind}`);
    return api;
  };

  /** The vendor's id of an issued credential: its reference, or found by its issue's name. */
  async function idOf(api: CredentialApi, lock: number, vendorRef: string | null, issueOperationId: string) {
    if (vendorRef !== null) return Number(vendorRef);
    return (await api.find(lock, passcodeName(issueOperationId))) ?? null;
  }

  /** Reachable from the cloud: through a gateway, or itself (a WiFi lock, feature 56). */
  const toLock = (l: TtlockLock): VendorLock => ({
    ref: String(l.lockId),
    name: l.lockAlias || l.lockName,
    battery: l.electricQuantity ?? null,
    online: l.hasGateway === 1 || isWifiLock(l.featureValue),
  });

  return {
    vendor: 'ttlock',
    capabilities: () => capabilities,

    async listLocks() {
      const out: VendorLock[] = [];
      for (let pageNo = 1; ; pageNo++) {
        const page = await call<TtlockPage<TtlockLock>>('/v3/lock/list', { pageNo, pageSize: 1000 });
        out.push(...page.list.map(toLock));
        if (lastPage(page, pageNo)) return out;
      }
    },

    async getLock(ref) {
      const detail = await call<TtlockLock>('/v3/lock/detail', { lockId: lockId(ref) });
      if (detail.hasGateway !== 1 && isWifiLock(detail.featureValue)) {
        // A WiFi lock says itself whether it is on its network now; -3034: its WiFi was never set up.
        const w = await call<{ isOnline?: unknown }>('/v3/wifiLock/detail', { lockId: lockId(ref) }).catch(
          (e: unknown) => {
            if (e instanceof TtlockVendorError && e.errcode === WIFI_NOT_CONFIGURED) return { isOnline: 0 };
            throw e;
          },
        );
        return { ...toLock(detail), online: w.isOnline === 1 || w.isOnline === true };
      }
      return toLock(detail);
    },

    async issueCredential(req: IssueRequest) {
      const api = apiFor(req.kind);
      const lock = lockId(req.lockRef);
      const name = passcodeName(req.operationId);
      if (req.lookupFirst) {
        const existing = await api.find(lock, name);
        if (existing !== undefined) return { vendorRef: String(existing) };
      }
      try {
        return { vendorRef: String(await api.add(lock, name, req)) };
      } catch (e) {
        // The same PIN or card already on the lock: ours from an earlier run whose answer was lost, or a clash.
        if (e instanceof VendorError && e.failure === 'DUPLICATE') {
          const existing = await api.find(lock, name);
          if (existing !== undefined) return { vendorRef: String(existing) };
        }
        throw e;
      }
    },

    async revokeCredential(req: RevokeRequest) {
      const api = apiFor(req.kind);
      const lock = lockId(req.lockRef);
      const id = await idOf(api, lock, req.vendorRef, req.issueOperationId);
      if (id === null) return;
      try {
        await api.remove(lock, id);
      } catch (e) {
        // Not there (any more): revoked is what was asked.
        if (!(e instanceof VendorError && e.failure === 'NOT_FOUND')) throw e;
      }
    },

    async modifyValidity(req: ModifyValidityRequest): Promise<ModifyValidityResult> {
      const api = apiFor(req.kind);
      const lock = lockId(req.lockRef);
      const id = await idOf(api, lock, req.vendorRef, req.issueOperationId);
      if (id === null) throw new VendorError('NOT_FOUND', `no ${api.what} of this credential on the lock`);
      await api.change(lock, id, req.validFrom, req.validUntil);
      return { outcome: 'modified', vendorRef: String(id) };
    },

    async remoteUnlock(lockRef) {
      await call('/v3/lock/unlock', { lockId: lockId(lockRef) });
    },

    async getBattery(lockRef) {
      const r = await call<{ electricQuantity: number }>('/v3/lock/queryElectricQuantity', {
        lockId: lockId(lockRef),
      });
      return typeof r.electricQuantity === 'number' ? r.electricQuantity : null;
    },

    async listAccessRecords(lockRef, from, until) {
      const lock = lockId(lockRef);
      const out: AccessRecord[] = [];
      for (let pageNo = 1; ; pageNo++) {
        const page = await call<TtlockPage<TtlockRecord>>('/v3/lockRecord/list', {
          lockId: lock,
          startDate: from.getTime(),
          endDate: until.getTime(),
          pageNo,
          pageSize: 200,
        });
        // keyboardPwd (the passcode or card number) is dropped here.
        for (const r of page.list)
          out.push({
            at: new Date(r.lockDate),
            method: recordMethod(r.recordType),
            success: r.success === 1,
            battery: typeof r.electricQuantity === 'number' ? r.electricQuantity : null,
          });
        if (lastPage(page, pageNo)) return out;
      }
    },

    // TTLock's "async request failed" notice (notifyType 4) is unsigned: the lock's passcode list says
    // whether it is true. The cloud keeps listing a passcode whose add failed, with status 5; one that is
    // absent is gone too. (keyboardPwd values are never read from the answer.)
    async credentialPresent(lockRef, vendorRef) {
      const lock = lockId(lockRef);
      for (let pageNo = 1; ; pageNo++) {
        const page = await call<TtlockPage<TtlockPasscode>>('/v3/lock/listKeyboardPwd', {
          lockId: lock,
          pageNo,
          pageSize: 100,
          orderBy: 1,
        });
        const found = page.list.find((p) => String(p.keyboardPwdId) === vendorRef);
        if (found) return found.status !== PASSCODE_ADD_FAILED;
        if (lastPage(page, pageNo)) return false;
      }
    },

    async health() {
      await call('/v3/lock/list', { pageNo: 1, pageSize: 1 });
    },
  };
}
