/**
 * TTLock adapter over the Open API v3. PINs are custom passcodes added through the gateway (`addType=2`).
 * Idempotency: each passcode is named after its operation id, so a repeated run finds the one it made
 * instead of adding a second (TTLock itself would add a second).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../../ids.ts';
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

export function createTtlockAdapter(deps: TtlockAdapterDeps): LockAdapter {
  const { config, clock, timeoutMs } = deps;
  const http = createVendorHttp({ timeoutMs });
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
        throw fromTtlock(body);
      }
      return body as T;
    }
  }

  const lockId = (ref: string) => {
    if (!/^\d+$/.test(ref)) throw new VendorError('INVALID', 'a TTLock lock reference is its numeric lockId');
    return Number(ref);
  };

  async function findPasscode(lock: number, name: string): Promise<TtlockPasscode | undefined> {
    const page = await call<TtlockPage<TtlockPasscode>>('/v3/lock/listKeyboardPwd', {
      lockId: lock,
      pageNo: 1,
      pageSize: 200,
      orderBy: 1,
      searchStr: name,
    });
    return page.list.find((p) => p.keyboardPwdName === name);
  }

  async function findCard(lock: number, name: string): Promise<TtlockCard | undefined> {
    const page = await call<TtlockPage<TtlockCard>>('/v3/identityCard/list', {
      lockId: lock,
      pageNo: 1,
      pageSize: 200,
      orderBy: 1,
      searchStr: name,
    });
    return page.list.find((c) => c.cardName === name);
  }

  /** IC cards: the card's number registered at the lock through the gateway, named like passcodes. */
  async function issueCard(req: IssueRequest) {
    if (!req.cardNumber) throw new VendorError('INVALID', 'a TTLock card needs its card number');
    const lock = lockId(req.lockRef);
    const name = passcodeName(req.operationId);
    if (req.lookupFirst) {
      const existing = await findCard(lock, name);
      if (existing) return { vendorRef: String(existing.cardId) };
    }
    // identityCard/add keeps the number as read; readers of the other byte order need
    // addForReversedCardNumber (not configurable yet).
    const r = await call<{ cardId: number }>('/v3/identityCard/add', {
      lockId: lock,
      cardNumber: req.cardNumber,
      cardName: name,
      startDate: req.validFrom.getTime(),
      endDate: req.validUntil.getTime(),
      addType: 2,
    });
    return { vendorRef: String(r.cardId) };
  }

  async function cardRef(lock: number, vendorRef: string | null, issueOperationId: string) {
    return vendorRef ?? (await findCard(lock, passcodeName(issueOperationId)))?.cardId ?? null;
  }

  async function modifyCard(req: ModifyValidityRequest): Promise<ModifyValidityResult> {
    const lock = lockId(req.lockRef);
    const ref = await cardRef(lock, req.vendorRef, req.issueOperationId);
    if (ref === null) throw new VendorError('NOT_FOUND', 'no card of this credential on the lock');
    await call('/v3/identityCard/changePeriod', {
      lockId: lock,
      cardId: Number(ref),
      startDate: req.validFrom.getTime(),
      endDate: req.validUntil.getTime(),
      changeType: 2,
    });
    return { outcome: 'modified', vendorRef: String(ref) };
  }

  async function revokeCard(req: RevokeRequest) {
    const lock = lockId(req.lockRef);
    const ref = await cardRef(lock, req.vendorRef, req.issueOperationId);
    if (ref === null) return;
    try {
      await call('/v3/identityCard/delete', { lockId: lock, cardId: Number(ref), deleteType: 2 });
    } catch (e) {
      // -1021: the card is not there (any more): revoked is what was asked.
      if (!(e instanceof VendorError && e.failure === 'NOT_FOUND')) throw e;
    }
  }

  async function findEkey(lock: number, name: string): Promise<TtlockEkey | undefined> {
    for (let pageNo = 1; ; pageNo++) {
      const page = await call<TtlockPage<TtlockEkey>>('/v3/lock/listKey', {
        lockId: lock,
        pageNo,
        pageSize: 200,
      });
      const found = page.list.find((k) => k.keyName === name && k.keyStatus !== EKEY_DELETED);
      if (found || pageNo >= page.pages) return found;
    }
  }

  /** eKeys: a mobile key sent to the guest's TTLock account, named like passcodes. */
  async function sendEkey(req: IssueRequest) {
    if (!req.recipient) throw new VendorError('INVALID', "a TTLock eKey needs the guest's TTLock account");
    const lock = lockId(req.lockRef);
    const name = passcodeName(req.operationId);
    if (req.lookupFirst) {
      const existing = await findEkey(lock, name);
      if (existing) return { vendorRef: String(existing.keyId) };
    }
    const r = await call<{ keyId: number }>('/v3/key/send', {
      lockId: lock,
      receiverUsername: req.recipient,
      keyName: name,
      startDate: req.validFrom.getTime(),
      endDate: req.validUntil.getTime(),
      // No remote unlock from the guest's app; no account is created for an unknown receiver.
      remoteEnable: 2,
      createUser: 2,
    });
    return { vendorRef: String(r.keyId) };
  }

  async function ekeyRef(lock: number, vendorRef: string | null, issueOperationId: string) {
    return vendorRef ?? (await findEkey(lock, passcodeName(issueOperationId)))?.keyId ?? null;
  }

  async function changeEkeyPeriod(req: ModifyValidityRequest): Promise<ModifyValidityResult> {
    const ref = await ekeyRef(lockId(req.lockRef), req.vendorRef, req.issueOperationId);
    if (ref === null) throw new VendorError('NOT_FOUND', 'no eKey of this credential on the lock');
    await call('/v3/key/changePeriod', {
      keyId: Number(ref),
      startDate: req.validFrom.getTime(),
      endDate: req.validUntil.getTime(),
    });
    return { outcome: 'modified', vendorRef: String(ref) };
  }

  async function deleteEkey(req: RevokeRequest) {
    const ref = await ekeyRef(lockId(req.lockRef), req.vendorRef, req.issueOperationId);
    if (ref === null) return;
    try {
      await call('/v3/key/delete', { keyId: Number(ref) });
    } catch (e) {
      if (!(e instanceof VendorError && e.failure === 'NOT_FOUND')) throw e;
    }
  }

  const toLock = (l: TtlockLock): VendorLock => ({
    ref: String(l.lockId),
    name: l.lockAlias || l.lockName,
    battery: l.electricQuantity ?? null,
    online: l.hasGateway === 1,
  });

  return {
    vendor: 'ttlock',
    capabilities: () => capabilities,

    async listLocks() {
      const out: VendorLock[] = [];
      for (let pageNo = 1; ; pageNo++) {
        const page = await call<TtlockPage<TtlockLock>>('/v3/lock/list', { pageNo, pageSize: 1000 });
        out.push(...page.list.map(toLock));
        if (pageNo >= page.pages) return out;
      }
    },

    async getLock(ref) {
      return toLock(await call<TtlockLock>('/v3/lock/detail', { lockId: lockId(ref) }));
    },

    async issueCredential(req: IssueRequest) {
      if (req.kind === 'card') return issueCard(req);
      if (req.kind === 'mobile_key') return sendEkey(req);
      if (req.kind !== 'pin')
        throw new VendorError('NOT_SUPPORTED', `ttlock adapter cannot issue ${req.kind}`);
      if (!req.pin) throw new VendorError('INVALID', 'a TTLock passcode needs a PIN');
      const lock = lockId(req.lockRef);
      const name = passcodeName(req.operationId);
      if (req.lookupFirst) {
        const existing = await findPasscode(lock, name);
        if (existing) return { vendorRef: String(existing.keyboardPwdId) };
      }
      try {
        const r = await call<{ keyboardPwdId: number }>('/v3/keyboardPwd/add', {
          lockId: lock,
          keyboardPwd: req.pin,
          keyboardPwdName: name,
          keyboardPwdType: 3,
          startDate: req.validFrom.getTime(),
          endDate: req.validUntil.getTime(),
          addType: 2,
        });
        return { vendorRef: String(r.keyboardPwdId) };
      } catch (e) {
        // Same PIN already on the lock: ours from an earlier run whose answer was lost, or truly a clash.
        if (e instanceof VendorError && e.failure === 'DUPLICATE') {
          const existing = await findPasscode(lock, name);
          if (existing) return { vendorRef: String(existing.keyboardPwdId) };
        }
        throw e;
      }
    },

    async revokeCredential(req: RevokeRequest) {
      if (req.kind === 'card') return revokeCard(req);
      if (req.kind === 'mobile_key') return deleteEkey(req);
      const lock = lockId(req.lockRef);
      const ref =
        req.vendorRef ?? (await findPasscode(lock, passcodeName(req.issueOperationId)))?.keyboardPwdId;
      if (ref === undefined || ref === null) return;
      await call('/v3/keyboardPwd/delete', { lockId: lock, keyboardPwdId: Number(ref), deleteType: 2 });
    },

    async modifyValidity(req: ModifyValidityRequest): Promise<ModifyValidityResult> {
      if (req.kind === 'card') return modifyCard(req);
      if (req.kind === 'mobile_key') return changeEkeyPeriod(req);
      const lock = lockId(req.lockRef);
      const ref =
        req.vendorRef ?? (await findPasscode(lock, passcodeName(req.issueOperationId)))?.keyboardPwdId;
      if (ref === undefined || ref === null)
        throw new VendorError('NOT_FOUND', 'no passcode of this credential on the lock');
      // changeType 2: through the gateway, in place; both dates, or TTLock silently keeps the old window.
      await call('/v3/keyboardPwd/change', {
        lockId: lock,
        keyboardPwdId: Number(ref),
        startDate: req.validFrom.getTime(),
        endDate: req.validUntil.getTime(),
        changeType: 2,
      });
      return { outcome: 'modified', vendorRef: String(ref) };
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
        if (pageNo >= page.pages) return out;
      }
    },

    async health() {
      await call('/v3/lock/list', { pageNo: 1, pageSize: 1 });
    },
  };
}
