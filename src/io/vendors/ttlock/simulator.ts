/**
 * A TTLock Open API v3 simulator: a real HTTP server with the vendor's awkward parts — HTTP 200 with
 * `errcode` on failure, the ±5 min `date` check, md5 passwords, 250 custom passcodes per lock, and a
 * repeated `keyboardPwd/add` creating a second passcode. Control routes: `/_sim/state|faults|reset|locks`.
 */
import { createHash } from 'node:crypto';
import { type BaseFaults, seededLocks, startSimServer, type VendorSimulator } from '../simServer.ts';
import type { TtlockCard, TtlockEkey, TtlockLock, TtlockPasscode, TtlockRecord } from './wire.ts';

export interface TtlockSimulatorOptions {
  port?: number;
  host?: string;
  lockCount?: number;
  tokenTtlSeconds?: number;
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
}

export interface SimFaults extends BaseFaults {
  errorRate: number;
  /** Every v3 call answers errcode 30006 (the account's call limit). */
  rateLimited: boolean;
  /** The simulator's clock runs this far from the caller's: beyond ±5 min, errcode 80000. */
  clockSkewMs: number;
  /** How long a gateway operation keeps its lock busy; another on that lock meanwhile is -3003. */
  gatewayMs: number;
  /** Every gateway operation answers -3003 (the lock's gateway is busy). */
  lockBusy: boolean;
  /** Every gateway operation answers -2012 (no gateway reaches the lock). */
  gatewayOffline: boolean;
  /** The account's monthly call quota is spent: every v3 call answers errcode 30007. */
  monthlyQuota: boolean;
  /** The next this many v3 calls answer errcode 1 ("failed or means no", nothing more said). */
  genericFailures: number;
}

export const TTLOCK_SIM_DEFAULTS = {
  clientId: 'sim-client',
  clientSecret: 'sim-secret',
  username: 'hotel-admin',
  password: 'sim-password',
} as const;

const MAX_CUSTOM_PASSCODES = 250;

/** What the simulator takes for TTLock's "too simple": one digit repeated, or a run up or down. */
export function tooSimple(pin: string): boolean {
  const d = [...pin].map(Number);
  const steps = new Set(d.slice(1).map((x, i) => (x - (d[i] ?? 0) + 10) % 10));
  return steps.size === 1 && (steps.has(0) || steps.has(1) || steps.has(9));
}
/** `listKeyboardPwd` status: 1 normal; 5 add failed (the gateway could not write it to the lock). */
const PASSCODE_NORMAL = 1;
/** Added asynchronously (addType 4), not on the lock until it wakes. */
const PASSCODE_ADDING = 4;
const PASSCODE_ADD_FAILED = 5;
const WIFI_FEATURE = 1n << 56n;

/** Parameters each path requires besides clientId, accessToken and date (the Open Platform's pages). */
const REQUIRED: Record<string, string[]> = {
  '/v3/keyboardPwd/add': ['lockId', 'keyboardPwd', 'addType'],
  '/v3/keyboardPwd/change': ['lockId', 'keyboardPwdId', 'changeType'],
  '/v3/keyboardPwd/delete': ['lockId', 'keyboardPwdId', 'deleteType'],
  '/v3/lock/listKeyboardPwd': ['lockId', 'pageNo', 'pageSize', 'orderBy'],
  '/v3/lock/unlock': ['lockId'],
  '/v3/lock/queryDate': ['lockId'],
  '/v3/lock/updateDate': ['lockId'],
  '/v3/wifiLock/detail': ['lockId'],
  '/v3/identityCard/add': ['lockId', 'cardNumber', 'addType'],
  '/v3/identityCard/delete': ['lockId', 'cardId', 'deleteType'],
  '/v3/lock/listKey': ['lockId', 'pageNo', 'pageSize', 'orderBy'],
};
const MAX_CARDS = 1000;
const DATE_TOLERANCE_MS = 5 * 60_000;

export interface TtlockSimulator extends VendorSimulator<SimState, SimFaults> {
  /** Every issued access token expires now (errcode 10004 until the caller refreshes). */
  expireTokens(): void;
  /** Connects a lock to a gateway, or takes it off (gateway operations then answer -2012). */
  setLockOnline(lockRef: string, online: boolean): void;
  setBattery(lockRef: string, percent: number): void;
  /** Where callbacks go (the app's one callback URL); none when null. */
  setCallbackUrl(url: string | null): void;
  /**
   * A guest types a PIN on the lock: a record (passcode unlock, success if a passcode with that PIN is
   * valid now) and, with a callback URL, the callback for it (awaited). Returns the record.
   */
  enterPasscode(lockRef: string, pin: string, at?: number): Promise<TtlockRecord>;
  /** Posts a callback as TTLock would (form-encoded), e.g. one that no record backs. */
  sendCallback(fields: Record<string, string>): Promise<number>;
  /**
   * The gateway could not write a passcode to its lock after all: it is gone from the lock, and TTLock's
   * asynchronous failure notice (notifyType 4) is posted (awaited).
   */
  failPasscodeAsync(keyboardPwdId: string): Promise<number>;
  /** A TTLock app account that can receive eKeys (seeded: guest.one@example.com, guest.two@example.com). */
  registerAppAccount(username: string): void;
  /**
   * Makes the lock a WiFi lock (feature 56, no gateway) with its link and power-saving mode. In power-saving
   * mode a gateway-style write (`…Type=2`) answers -3035, and a passcode may be added asynchronously
   * (`addType=4`): listed as "adding" until the lock wakes.
   */
  configureWifi(lockRef: string, wifi: { online: boolean; powerSaving: boolean }): void;
  /** A WiFi lock in power-saving mode wakes: what was added asynchronously reaches it. */
  wakeLock(lockRef: string): void;
  /** The lock's own clock runs this far off the real time (a drifted clock, or a wrong time zone). */
  setLockClockDrift(lockRef: string, ms: number): void;
  lockClockDrift(lockRef: string): number;
  /** The lock's "remote unlock" setting in the TTLock app (on by default here): off, unlock answers -4043. */
  setRemoteUnlock(lockRef: string, on: boolean): void;
}

export interface SimState {
  locks: { ref: string; name: string }[];
  credentials: {
    ref: string;
    lockRef: string;
    kind: string;
    validFrom: string;
    validUntil: string;
    name: string;
    /** The simulator's own state (tests compare it with what the guest was given); never logged. */
    pin?: string;
    cardNumber?: string;
    /** The account an eKey was sent to. */
    recipient?: string;
  }[];
}

export async function startTtlockSimulator(opts: TtlockSimulatorOptions = {}): Promise<TtlockSimulator> {
  const account = { ...TTLOCK_SIM_DEFAULTS, ...opts };
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  let locks = new Map<number, TtlockLock>();
  let passcodes = new Map<number, TtlockPasscode[]>();
  let records = new Map<number, TtlockRecord[]>();
  let cards = new Map<number, TtlockCard[]>();
  let ekeys = new Map<number, TtlockEkey[]>();
  /** TTLock app accounts that can receive eKeys (the admin's own cannot). */
  let appAccounts = new Set<string>();
  let callbackUrl: string | null = null;
  let nextRecordId = 1;
  const tokens = new Map<string, number>();
  const refreshTokens = new Set<string>();
  let nextId = 1;

  const busyUntil = new Map<number, number>();
  /** WiFi locks' link and power-saving mode; the drift of each lock's clock; how each passcode was added. */
  let wifi = new Map<number, { online: boolean; powerSaving: boolean }>();
  let clockDrift = new Map<number, number>();
  let addTypes = new Map<number, string>();
  let remoteUnlockOff = new Set<number>();

  /** The seed's locks (`seedLock`), as many as the option says or `/_sim/locks` asked for since. */
  const seeding = seededLocks({
    count: opts.lockCount ?? 10,
    existing: () => locks.size,
    seedOne: seedLock,
    refs: () => [...locks.keys()].map(String),
  });

  function reset() {
    wifi = new Map();
    clockDrift = new Map();
    addTypes = new Map();
    remoteUnlockOff = new Set();
    locks = new Map();
    passcodes = new Map();
    records = new Map();
    cards = new Map();
    ekeys = new Map();
    appAccounts = new Set(['guest.one@example.com', 'guest.two@example.com']);
    busyUntil.clear();
    seeding.seed();
  }

  /** Lock `i` of the seed (0-based): lock id 7001 + i, "Room 101 + i". */
  function seedLock(i: number) {
    const lockId = 7001 + i;
    const room = 101 + i;
    const octet = (n: number) => (n & 255).toString(16).padStart(2, '0');
    locks.set(lockId, {
      lockId,
      lockName: `Room ${room}`,
      lockAlias: `Room ${room}`,
      lockMac: `AA:BB:CC:${octet(i >> 16)}:${octet(i >> 8)}:${octet(i)}`.toUpperCase(),
      electricQuantity: 90 - (i % 50),
      hasGateway: 1,
      featureValue: 'F44354CD5F3',
    });
    passcodes.set(lockId, []);
  }

  const fail = (errcode: number, errmsg: string) => ({ errcode, errmsg, description: errmsg });
  const ok = () => ({ errcode: 0, errmsg: 'none error message', description: '' });

  function token(params: URLSearchParams) {
    // Both forms TTLock takes: the Open Platform documents clientId/clientSecret, working clients (Home
    // Assistant's) send client_id/client_secret.
    const field = (snake: string, camel: string) => params.get(snake) ?? params.get(camel);
    if (
      field('client_id', 'clientId') !== account.clientId ||
      field('client_secret', 'clientSecret') !== account.clientSecret
    ) {
      return fail(10001, 'invalid client');
    }
    const grant = field('grant_type', 'grantType') ?? 'password';
    if (grant === 'refresh_token') {
      const rt = field('refresh_token', 'refreshToken') ?? '';
      if (!refreshTokens.has(rt)) return fail(10011, 'invalid refresh_token');
    } else if (grant === 'password') {
      if (params.get('username') !== account.username)
        return fail(10007, 'invalid account or invalid password');
      const pw = params.get('password') ?? '';
      if (!/^[0-9a-f]{32}$/.test(pw)) return fail(30005, 'password must be md5 encrypted');
      if (pw !== md5(account.password)) return fail(10007, 'invalid account or invalid password');
    } else {
      return fail(10010, 'unsupported grant_type');
    }
    const ttl = opts.tokenTtlSeconds ?? 7_776_000;
    const access = md5(`a${Math.random()}${Date.now()}`);
    const refresh = md5(`r${Math.random()}${Date.now()}`);
    tokens.set(access, Date.now() + ttl * 1000);
    refreshTokens.add(refresh);
    return {
      access_token: access,
      refresh_token: refresh,
      uid: 4242,
      openid: 4242,
      expires_in: ttl,
      scope: 'user,key,room',
      token_type: 'Bearer',
    };
  }

  /** Paths that go through the lock's gateway: one at a time per lock, and only while it is reachable. */
  const viaGateway = (path: string, p: URLSearchParams) =>
    path === '/v3/lock/unlock' ||
    path === '/v3/lock/queryElectricQuantity' ||
    path === '/v3/lock/queryDate' ||
    path === '/v3/lock/updateDate' ||
    (path === '/v3/keyboardPwd/add' && (p.get('addType') === '2' || p.get('addType') === '4')) ||
    (path === '/v3/keyboardPwd/change' && p.get('changeType') === '2') ||
    (path === '/v3/keyboardPwd/delete' && p.get('deleteType') === '2') ||
    (path === '/v3/identityCard/add' && p.get('addType') === '2') ||
    (path === '/v3/identityCard/changePeriod' && p.get('changeType') === '2') ||
    (path === '/v3/identityCard/delete' && p.get('deleteType') === '2');

  function gatewayRefusal(lockId: number, faults: SimFaults, asynchronous: boolean) {
    const lock = locks.get(lockId);
    if (!lock) return null; // the operation answers -1003 itself
    const w = wifi.get(lockId);
    if (w) {
      // A WiFi lock reaches the cloud itself; asleep (power saving) it takes only asynchronous writes.
      if (!w.online) return fail(-3036, 'The lock is offline.');
      if (w.powerSaving && !asynchronous)
        return fail(-3035, 'The lock is in power saving mode. Please try again later.');
    } else if (asynchronous) {
      return fail(-3, 'Invalid Parameter: addType 4 is for WiFi locks');
    } else if (faults.gatewayOffline || lock.hasGateway !== 1)
      return fail(-2012, 'The lock is not connected to any gateway.');
    if (faults.lockBusy || (busyUntil.get(lockId) ?? 0) > Date.now())
      return fail(-3003, 'The gateway is busy. Please try again later.');
    if (faults.gatewayMs > 0) busyUntil.set(lockId, Date.now() + faults.gatewayMs);
    return null;
  }

  function v3(path: string, p: URLSearchParams, faults: SimFaults): unknown {
    if (p.get('clientId') !== account.clientId) return fail(10000, 'invalid client_id');
    const expiry = tokens.get(p.get('accessToken') ?? '');
    if (expiry === undefined) return fail(10003, 'invalid token');
    if (expiry < Date.now()) return fail(10004, 'invalid grant');
    const date = Number(p.get('date'));
    if (!Number.isFinite(date) || Math.abs(date - (Date.now() + faults.clockSkewMs)) > DATE_TOLERANCE_MS) {
      return fail(80000, 'date must be current time, in 5 minutes');
    }
    if (faults.monthlyQuota)
      return fail(
        30007,
        'exceeded the monthty limit for API calls. Upgrade your developer account to get more calls',
      );
    if (faults.rateLimited) return fail(30006, 'request too frequently, please try again later');
    if (faults.genericFailures > 0) {
      faults.genericFailures--;
      return fail(1, 'failed or means no');
    }
    if (faults.errorRate > 0 && Math.random() < faults.errorRate)
      return fail(-3002, 'The gateway is offline.');
    const lockId = Number(p.get('lockId'));
    // Required parameters, as the Open Platform's pages list them.
    const missing = (REQUIRED[path] ?? []).find((name) => !p.get(name));
    if (missing) return fail(-3, `Invalid Parameter: ${missing}`);
    if (viaGateway(path, p)) {
      const refused = gatewayRefusal(lockId, faults, p.get('addType') === '4');
      if (refused) return refused;
    }
    const lockTime = () => Date.now() + (clockDrift.get(lockId) ?? 0);
    const page = <T>(all: T[], max: number) => {
      const pageNo = Math.max(1, Number(p.get('pageNo') ?? 1));
      const pageSize = Math.min(max, Math.max(1, Number(p.get('pageSize') ?? 20)));
      return {
        list: all.slice((pageNo - 1) * pageSize, pageNo * pageSize),
        pageNo,
        pageSize,
        pages: Math.ceil(all.length / pageSize),
        total: all.length,
      };
    };
    switch (path) {
      case '/v3/lock/list':
        return page([...locks.values()], 1000);
      case '/v3/lock/detail': {
        const l = locks.get(lockId);
        return l
          ? { ...l, timezoneRawOffset: 0, modelNum: 'SN-SIM', date: Date.now() }
          : fail(-1003, 'Lock does not exist.');
      }
      case '/v3/lock/queryDate':
        return locks.has(lockId) ? { date: lockTime() } : fail(-1003, 'Lock does not exist.');
      case '/v3/lock/updateDate': {
        if (!locks.has(lockId)) return fail(-1003, 'Lock does not exist.');
        // The lock is set to the request's time (the caller's current time).
        clockDrift.set(lockId, Number(p.get('date')) - Date.now());
        return { date: lockTime() };
      }
      case '/v3/wifiLock/detail': {
        if (!locks.has(lockId)) return fail(-1003, 'Lock does not exist.');
        const w = wifi.get(lockId);
        if (!w) return fail(-3034, 'The WiFi network of the lock is not configured.');
        return {
          networkName: 'Hotel-IoT',
          wifiMac: 'AA:BB:CC:DD:EE:FF',
          rssiGrade: 3,
          isOnline: w.online ? 1 : 0,
          powerSavingMode: w.powerSaving ? 1 : 2,
        };
      }
      case '/v3/lock/queryElectricQuantity': {
        const l = locks.get(lockId);
        return l ? { electricQuantity: l.electricQuantity } : fail(-1003, 'Lock does not exist.');
      }
      case '/v3/lock/listKeyboardPwd': {
        const list = passcodes.get(lockId);
        if (!list) return fail(-1003, 'Lock does not exist.');
        const search = p.get('searchStr');
        // The documented page size is at most 100.
        return page(
          search ? list.filter((x) => x.keyboardPwdName.includes(search) || x.keyboardPwd === search) : list,
          100,
        );
      }
      case '/v3/keyboardPwd/add': {
        const list = passcodes.get(lockId);
        if (!list) return fail(-1003, 'Lock does not exist.');
        const pwd = p.get('keyboardPwd') ?? '';
        if (!/^\d{4,9}$/.test(pwd)) return fail(-3006, 'Passcode should be between 4 - 9 Digits in length');
        if (tooSimple(pwd)) return fail(-2032, 'The passcode is too simple.');
        const startDate = Number(p.get('startDate'));
        const endDate = Number(p.get('endDate'));
        if (!Number.isFinite(startDate) || !Number.isFinite(endDate) || endDate <= startDate) {
          return fail(-3, 'Invalid Parameter');
        }
        if (list.length >= MAX_CUSTOM_PASSCODES) return fail(-3009, 'Custom passcode storage full');
        if (list.some((x) => x.keyboardPwd === pwd)) return fail(-3007, 'The same passcode already exists.');
        // As the real API does: no idempotency; a repeated add is a second passcode.
        const asynchronous = p.get('addType') === '4';
        const entry: TtlockPasscode = {
          keyboardPwdId: nextId++,
          lockId,
          keyboardPwd: pwd,
          keyboardPwdName: p.get('keyboardPwdName') ?? '',
          keyboardPwdType: Number(p.get('keyboardPwdType') ?? 3),
          startDate,
          endDate,
          sendDate: Date.now(),
          isCustom: 1,
          status: asynchronous ? PASSCODE_ADDING : PASSCODE_NORMAL,
          senderUsername: account.username,
        };
        list.push(entry);
        addTypes.set(entry.keyboardPwdId, p.get('addType') ?? '');
        return { keyboardPwdId: entry.keyboardPwdId };
      }
      case '/v3/keyboardPwd/change': {
        const entry = passcodes.get(lockId)?.find((x) => x.keyboardPwdId === Number(p.get('keyboardPwdId')));
        if (!entry) return fail(-2009, 'Passcode does not exist.');
        const s = p.get('startDate');
        const e = p.get('endDate');
        // Both dates or the period silently stays as it was, as practitioners report.
        if (s && e) {
          entry.startDate = Number(s);
          entry.endDate = Number(e);
        }
        const n = p.get('keyboardPwdName');
        if (n) entry.keyboardPwdName = n;
        return ok();
      }
      case '/v3/lock/unlock': {
        const l = locks.get(lockId);
        if (!l) return fail(-1003, 'Lock does not exist.');
        // Remote unlock is a setting of the lock in the TTLock app; switched off, unlock is refused.
        if (remoteUnlockOff.has(lockId)) return fail(-4043, 'The function is not supported for this lock');
        record(l, 12, 1, account.username, '', Date.now());
        return ok();
      }
      case '/v3/lockRecord/list': {
        if (!locks.has(lockId)) return fail(-1003, 'Lock does not exist.');
        const from = Number(p.get('startDate') ?? 0);
        const until = Number(p.get('endDate') ?? Number.MAX_SAFE_INTEGER);
        const list = (records.get(lockId) ?? [])
          .filter((r) => r.lockDate >= from && r.lockDate <= until)
          .sort((a, b) => b.lockDate - a.lockDate);
        return page(list, 200);
      }
      case '/v3/key/send': {
        if (!locks.has(lockId)) return fail(-1003, 'Lock does not exist.');
        const receiver = p.get('receiverUsername') ?? '';
        if (receiver === account.username) return fail(-2019, 'You cannot send an eKey to yourself.');
        if (!appAccounts.has(receiver)) return fail(-4064, 'The receiver is not registered.');
        const startDate = Number(p.get('startDate'));
        const endDate = Number(p.get('endDate'));
        if (!(endDate > startDate)) return fail(-3, 'Invalid Parameter');
        // One eKey per account per lock: sending again replaces the earlier one.
        const kept = (ekeys.get(lockId) ?? []).filter((k) => k.username !== receiver);
        const key: TtlockEkey = {
          keyId: nextId++,
          lockId,
          username: receiver,
          keyName: p.get('keyName') ?? '',
          keyStatus: '110401',
          startDate,
          endDate,
          senderUsername: account.username,
        };
        ekeys.set(lockId, [...kept, key]);
        return { keyId: key.keyId };
      }
      case '/v3/lock/listKey': {
        // Required, as documented: a request without it is refused.
        if (!p.get('orderBy')) return fail(-3, 'Invalid Parameter: orderBy');
        if (!locks.has(lockId)) return fail(-1003, 'Lock does not exist.');
        return page(ekeys.get(lockId) ?? [], 100);
      }
      case '/v3/key/changePeriod': {
        const key = [...ekeys.values()].flat().find((k) => k.keyId === Number(p.get('keyId')));
        if (!key) return fail(-1008, 'eKey does not exist.');
        const startDate = Number(p.get('startDate'));
        const endDate = Number(p.get('endDate'));
        if (!(endDate > startDate)) return fail(-3, 'Invalid Parameter');
        key.startDate = startDate;
        key.endDate = endDate;
        return ok();
      }
      case '/v3/key/delete': {
        const id = Number(p.get('keyId'));
        const owner = [...ekeys.entries()].find(([, list]) => list.some((k) => k.keyId === id));
        if (!owner) return fail(-1008, 'eKey does not exist.');
        ekeys.set(
          owner[0],
          owner[1].filter((k) => k.keyId !== id),
        );
        return ok();
      }
      case '/v3/identityCard/list': {
        if (!locks.has(lockId)) return fail(-1003, 'Lock does not exist.');
        const search = p.get('searchStr');
        const list = cards.get(lockId) ?? [];
        return page(search ? list.filter((c) => c.cardName.includes(search)) : list, 200);
      }
      case '/v3/identityCard/add': {
        if (!locks.has(lockId)) return fail(-1003, 'Lock does not exist.');
        const list = cards.get(lockId) ?? [];
        const cardNumber = p.get('cardNumber') ?? '';
        const startDate = Number(p.get('startDate'));
        const endDate = Number(p.get('endDate'));
        if (!/^\d{1,20}$/.test(cardNumber) || !(endDate > startDate)) return fail(-3, 'Invalid Parameter');
        if (list.length >= MAX_CARDS) return fail(-4056, 'Card storage full');
        if (list.some((c) => c.cardNumber === cardNumber))
          return fail(-3007, 'The same card already exists.');
        // As the real API: no idempotency; a repeated add is a second card.
        const card: TtlockCard = {
          cardId: nextId++,
          lockId,
          cardNumber,
          cardName: p.get('cardName') ?? '',
          startDate,
          endDate,
          createDate: Date.now(),
          senderUsername: account.username,
          cardType: 1,
          status: 1,
        };
        cards.set(lockId, [...list, card]);
        return { cardId: card.cardId };
      }
      case '/v3/identityCard/changePeriod': {
        const card = cards.get(lockId)?.find((c) => c.cardId === Number(p.get('cardId')));
        if (!card) return fail(-1021, 'IC card does not exist.');
        const startDate = Number(p.get('startDate'));
        const endDate = Number(p.get('endDate'));
        if (!(endDate > startDate)) return fail(-3, 'Invalid Parameter');
        card.startDate = startDate;
        card.endDate = endDate;
        return ok();
      }
      case '/v3/identityCard/delete': {
        const list = cards.get(lockId) ?? [];
        const id = Number(p.get('cardId'));
        if (!list.some((c) => c.cardId === id)) return fail(-1021, 'IC card does not exist.');
        cards.set(
          lockId,
          list.filter((c) => c.cardId !== id),
        );
        return ok();
      }
      case '/v3/keyboardPwd/delete': {
        const list = passcodes.get(lockId);
        if (!list) return fail(-1003, 'Lock does not exist.');
        const id = Number(p.get('keyboardPwdId'));
        // Deleting a passcode that is already gone answers errcode 0, as practitioners report of the real API.
        passcodes.set(
          lockId,
          list.filter((x) => x.keyboardPwdId !== id),
        );
        return ok();
      }
      default:
        return fail(-3, `unknown path ${path}`);
    }
  }

  function record(
    l: TtlockLock,
    recordType: number,
    success: 0 | 1,
    username: string,
    keyboardPwd: string,
    lockDate: number,
  ): TtlockRecord {
    const r: TtlockRecord = {
      recordId: nextRecordId++,
      lockId: l.lockId,
      recordType,
      success,
      username,
      keyboardPwd,
      lockDate,
      serverDate: Date.now(),
      electricQuantity: l.electricQuantity ?? 0,
    };
    records.set(l.lockId, [...(records.get(l.lockId) ?? []), r]);
    return r;
  }

  async function sendCallback(fields: Record<string, string>): Promise<number> {
    if (!callbackUrl) return 0;
    const res = await fetch(callbackUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    // TTLock takes a callback as delivered only when the answer's body is `success` (and sends it again).
    const answer = await res.text();
    if (res.ok && answer !== 'success')
      throw new Error(`the callback was answered ${JSON.stringify(answer.slice(0, 80))}, not success`);
    return res.status;
  }

  async function enterPasscode(lockRef: string, pin: string, at = Date.now()): Promise<TtlockRecord> {
    const l = locks.get(Number(lockRef));
    if (!l) throw new Error(`no lock ${lockRef}`);
    // The lock checks the window against its own clock: a drifted clock refuses a valid passcode.
    const lockAt = at + (clockDrift.get(l.lockId) ?? 0);
    const match = (passcodes.get(l.lockId) ?? []).find(
      (x) =>
        x.status === PASSCODE_NORMAL && x.keyboardPwd === pin && x.startDate <= lockAt && lockAt < x.endDate,
    );
    const r = record(l, 4, match ? 1 : 0, match?.keyboardPwdName ?? '', pin, at);
    // As the real callback: form fields, the records as a JSON string.
    await sendCallback({
      notifyType: '1',
      lockId: String(l.lockId),
      lockMac: l.lockMac,
      admin: account.username,
      records: JSON.stringify([r]),
    });
    return r;
  }

  const onLock = (all: Map<number, TtlockPasscode[]>) =>
    new Map([...all].map(([lock, list]) => [lock, list.filter((x) => x.status === PASSCODE_NORMAL)]));

  function state(): SimState {
    // What every kind shares: the id, the lock, the window and the name; then what is its own.
    const held = <T extends { lockId: number; startDate: number; endDate: number }>(
      all: Map<number, T[]>,
      kind: string,
      view: (x: T) => { ref: number; name: string } & Record<string, string | number>,
    ) =>
      [...all.values()].flat().map((x) => {
        const { ref, ...own } = view(x);
        return {
          ...own,
          ref: String(ref),
          lockRef: String(x.lockId),
          kind,
          validFrom: new Date(x.startDate).toISOString(),
          validUntil: new Date(x.endDate).toISOString(),
        } as SimState['credentials'][number];
      });
    return {
      locks: [...locks.values()].map((l) => ({ ref: String(l.lockId), name: l.lockName })),
      credentials: [
        // What the lock holds: a passcode whose add failed is listed by the cloud but not on the lock.
        ...held(onLock(passcodes), 'pin', (x) => ({
          ref: x.keyboardPwdId,
          name: x.keyboardPwdName,
          pin: x.keyboardPwd,
        })),
        ...held(cards, 'card', (c) => ({ ref: c.cardId, name: c.cardName, cardNumber: c.cardNumber })),
        ...held(ekeys, 'mobile_key', (k) => ({ ref: k.keyId, name: k.keyName, recipient: k.username })),
      ],
    };
  }

  const server = await startSimServer<SimState, SimFaults>({
    port: opts.port,
    host: opts.host,
    initialFaults: {
      latencyMs: 0,
      outage: false,
      errorRate: 0,
      rateLimited: false,
      clockSkewMs: 0,
      gatewayMs: 0,
      lockBusy: false,
      gatewayOffline: false,
      monthlyQuota: false,
      genericFailures: 0,
    },
    reset,
    state,
    setLocks: seeding.setLocks,
    handle(req, faults) {
      const params = new URLSearchParams(req.query);
      if (req.method === 'POST' && req.body)
        for (const [k, v] of new URLSearchParams(req.body)) params.set(k, v);
      if (req.path === '/oauth2/token') return { status: 200, body: token(params) };
      if (req.path.startsWith('/v3/')) {
        const body = v3(req.path, params, faults);
        // A gateway operation takes its time; the lock stays busy meanwhile.
        if (faults.gatewayMs > 0 && viaGateway(req.path, params))
          return new Promise((resolve) => setTimeout(() => resolve({ status: 200, body }), faults.gatewayMs));
        return { status: 200, body };
      }
      return { status: 404, body: { errcode: -3, errmsg: 'not found' } };
    },
  });
  return {
    ...server,
    expireTokens: () => {
      for (const k of tokens.keys()) tokens.set(k, 0);
    },
    setBattery: (lockRef, percent) => {
      const l = locks.get(Number(lockRef));
      if (l) l.electricQuantity = percent;
    },
    setCallbackUrl: (url) => {
      callbackUrl = url;
    },
    enterPasscode,
    sendCallback,
    registerAppAccount: (username) => {
      appAccounts.add(username);
    },
    failPasscodeAsync: async (keyboardPwdId) => {
      for (const [lockId, list] of passcodes) {
        const p = list.find((x) => String(x.keyboardPwdId) === keyboardPwdId);
        if (!p) continue;
        // TTLock's notice 4 is "WiFi lock asynchronous request fail notify": only for an asynchronous add.
        if (addTypes.get(p.keyboardPwdId) !== '4' || p.status !== PASSCODE_ADDING)
          throw new Error(`passcode ${keyboardPwdId} was not added asynchronously (addType 4): no notice 4`);
        // As TTLock: the cloud keeps listing it, with the status "add failed"; the lock does not have it.
        p.status = PASSCODE_ADD_FAILED;
        return sendCallback({
          notifyType: '4',
          lockId: String(lockId),
          lockMac: locks.get(lockId)?.lockMac ?? '',
          uid: '4242',
          objectType: '2',
          objectId: keyboardPwdId,
          errcode: '-3008',
        });
      }
      throw new Error(`no passcode ${keyboardPwdId}`);
    },
    setLockOnline: (lockRef, online) => {
      const l = locks.get(Number(lockRef));
      if (l) l.hasGateway = online ? 1 : 0;
    },
    configureWifi: (lockRef, w) => {
      const l = locks.get(Number(lockRef));
      if (!l) throw new Error(`no lock ${lockRef}`);
      l.hasGateway = 0;
      l.featureValue = (BigInt(`0x${l.featureValue ?? '0'}`) | WIFI_FEATURE).toString(16).toUpperCase();
      wifi.set(l.lockId, { ...w });
    },
    wakeLock: (lockRef) => {
      for (const x of passcodes.get(Number(lockRef)) ?? [])
        if (x.status === PASSCODE_ADDING) x.status = PASSCODE_NORMAL;
    },
    setLockClockDrift: (lockRef, ms) => {
      clockDrift.set(Number(lockRef), ms);
    },
    lockClockDrift: (lockRef) => clockDrift.get(Number(lockRef)) ?? 0,
    setRemoteUnlock: (lockRef, on) => {
      if (on) remoteUnlockOff.delete(Number(lockRef));
      else remoteUnlockOff.add(Number(lockRef));
    },
  };
}
