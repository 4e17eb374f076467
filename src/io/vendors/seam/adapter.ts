/**
 * Seam (one API over dozens of lock brands) through the official SDK (`seam`, pinned to 1.135.0: the
 * last line whose packages declare Node 20). PINs are Seam access codes: time-bound, named after the
 * operation id so a re-run finds what an earlier run made; validity changes in place
 * (`/access_codes/update`); revoke deletes the code, and a code already gone is success.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { checkPinForDevice, type SeamCodeRules } from './codeConstraints.ts';
import { type EgressPolicy, guardedLookup, VENDOR_RESPONSE_LIMIT } from '../egress.ts';
import {
  isSeamActionAttemptFailedError,
  isSeamActionAttemptTimeoutError,
  Seam,
  SeamHttpApiError,
  SeamHttpInvalidInputError,
  SeamHttpUnauthorizedError,
} from 'seam';
import {
  credentialName,
  type IssueRequest,
  type LockAdapter,
  type ModifyValidityRequest,
  type ModifyValidityResult,
  type RevokeRequest,
  type VendorCapabilities,
  VendorError,
  type VendorFailure,
  type VendorLock,
} from '../port.ts';

/** The parts of Seam's resources this adapter reads (the SDK's generated types resolve loosely here). */
interface SeamAccessCode {
  access_code_id: string;
  name?: string | null;
  /** `setting` while Seam programs the lock, `set` once the lock holds it. */
  status?: string;
  errors?: { error_code?: string }[];
}

/** How long an issue waits for its code to be `set` (Seam programs the lock asynchronously). */
const SET_WAIT_MS = 5000;
const SET_POLL_MS = 200;
/** Items asked per list page (Seam's lists are paged with `page_cursor`). */
const PAGE_LIMIT = 100;
interface SeamDevice {
  device_id: string;
  can_remotely_unlock?: boolean;
  can_program_online_access_codes?: boolean;
  properties: { name?: string; battery_level?: number; online?: boolean } & SeamCodeRules;
}
interface SeamActionAttempt {
  status: 'pending' | 'success' | 'error';
}

export interface SeamConfig {
  /** https://connect.getseam.com, or the fake's URL in simulated mode. */
  endpoint: string;
  apiKey: string;
}

export const capabilities: VendorCapabilities = {
  vendor: 'seam',
  kinds: ['pin'],
  updateValidityInPlace: true,
  remoteUnlock: true,
  battery: true,
  callerChosenPin: true,
  accessRecords: false,
  cardNumbers: false,
  mobileKeyRecipients: false,
};

/** Seam's error types that say more than the HTTP status. */
const byType: Record<string, VendorFailure> = {
  duplicate_access_code: 'DUPLICATE',
  duplicate_code_on_device: 'DUPLICATE',
  no_space_for_access_code_on_device: 'CAPACITY',
  device_offline: 'OFFLINE',
  hub_disconnected: 'OFFLINE',
  account_disconnected: 'AUTH',
  code_constraints_violated: 'INVALID',
  invalid_input: 'INVALID',
};

function byStatus(status: number): VendorFailure {
  if (status === 401) return 'AUTH';
  if (status === 403) return 'PERMISSION';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'DUPLICATE';
  if (status === 429) return 'RATE_LIMITED';
  if (status >= 500) return 'OFFLINE';
  return 'INVALID';
}

/** Maps whatever the SDK threw to one normalized failure; the detail carries Seam's type, not data. */
export function fromSeam(e: unknown, what: string): VendorError {
  if (e instanceof VendorError) return e;
  if (e instanceof SeamHttpUnauthorizedError) return new VendorError('AUTH', `seam ${what}: unauthorized`);
  if (e instanceof SeamHttpInvalidInputError)
    return new VendorError('INVALID', `seam ${what}: ${e.code}`, { cause: e });
  if (e instanceof SeamHttpApiError) {
    return new VendorError(
      byType[e.code] ?? byStatus(e.statusCode),
      `seam ${what}: ${e.statusCode} ${e.code}`,
    );
  }
  // Axios errors: with a response (e.g. a bare 503 from a proxy) or without one (network, timeout).
  const ax = e as { response?: { status?: number }; code?: string };
  if (typeof ax?.response?.status === 'number') {
    return new VendorError(byStatus(ax.response.status), `seam ${what}: HTTP ${ax.response.status}`);
  }
  if (ax?.code === 'ECONNABORTED' || ax?.code === 'ETIMEDOUT')
    return new VendorError('TIMEOUT', `seam ${what} timed out`);
  return new VendorError('OFFLINE', `seam ${what} unreachable`, { cause: e });
}

export function createSeamAdapter(deps: {
  config: SeamConfig;
  timeoutMs: number;
  egress?: EgressPolicy;
}): LockAdapter {
  // Live mode: the egress guard on every connection, answers capped. The SDK's default axios adapter is
  // `fetch`, which takes no agents (nor a size cap): the node `http` adapter hands `lookup` to net/tls.
  const agents = deps.egress
    ? {
        adapter: 'http' as const,
        httpAgent: new HttpAgent({ keepAlive: true, lookup: guardedLookup(deps.egress) }),
        httpsAgent: new HttpsAgent({ keepAlive: true, lookup: guardedLookup(deps.egress) }),
      }
    : {};
  const seam = new Seam({
    apiKey: deps.config.apiKey,
    endpoint: deps.config.endpoint,
    axiosOptions: {
      timeout: deps.timeoutMs,
      maxContentLength: VENDOR_RESPONSE_LIMIT,
      maxRedirects: 0,
      ...agents,
    },
    // Retries belong to the runtime (durable timers, breaker), not to the SDK.
    axiosRetryOptions: { retries: 0 },
  });

  // The SDK returns thenable requests, not promises: PromiseLike.
  const guard = async <T>(what: string, f: () => PromiseLike<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw fromSeam(e, what);
    }
  };

  // Every item of a paged list (`page_cursor`), through the SDK's paginator.
  const listCodes = (deviceId: string) =>
    guard('access_codes/list', () =>
      seam
        .createPaginator(seam.accessCodes.list({ device_id: deviceId, limit: PAGE_LIMIT }))
        .flattenToArray(),
    );
  const listDevices = () =>
    guard('devices/list', () =>
      seam.createPaginator(seam.devices.list({ limit: PAGE_LIMIT })).flattenToArray(),
    );

  async function findCode(deviceId: string, name: string) {
    const codes: SeamAccessCode[] = await listCodes(deviceId);
    return codes.find((c) => c.name === name);
  }

  const duplicate = (c: SeamAccessCode) =>
    (c.errors ?? []).some((e) => e.error_code === 'duplicate_code_on_device');

  /**
   * A code is the credential's only once the lock holds it: Seam answers the create at once and programs the
   * lock after, reporting a PIN another code holds on the code itself (`duplicate_code_on_device`), not as an
   * HTTP error. Waits for `set`; a duplicate is deleted and reported as DUPLICATE (the credential moves to its
   * next PIN); a code still `setting` after the wait is BUSY (retried: the re-run finds it by name and waits).
   */
  async function settled(code: SeamAccessCode): Promise<string> {
    const deadline = Date.now() + SET_WAIT_MS;
    for (let c = code; ;) {
      if (duplicate(c)) {
        await guard('access_codes/delete', () =>
          seam.accessCodes.delete({ access_code_id: c.access_code_id }),
        ).catch(() => undefined);
        throw new VendorError('DUPLICATE', 'seam access_codes: duplicate_code_on_device');
      }
      if (c.status === 'set') return c.access_code_id;
      if (Date.now() >= deadline) throw new VendorError('BUSY', 'seam access code still setting on the lock');
      await new Promise((r) => setTimeout(r, SET_POLL_MS));
      c = await guard('access_codes/get', () => seam.accessCodes.get({ access_code_id: c.access_code_id }));
    }
  }

  const getDevice = (ref: string): Promise<SeamDevice> =>
    guard('devices/get', () => seam.devices.get({ device_id: ref }));
  const toLock = (d: SeamDevice): VendorLock => {
    const level = d.properties.battery_level;
    return {
      ref: d.device_id,
      name: d.properties.name ?? d.device_id,
      battery: typeof level === 'number' ? Math.round(level * 100) : null,
      online: d.properties.online ?? null,
    };
  };

  return {
    vendor: 'seam',
    capabilities: () => capabilities,

    async listLocks() {
      const devices: SeamDevice[] = await listDevices();
      return devices.filter((d) => d.can_program_online_access_codes === true).map(toLock);
    },

    async getLock(ref) {
      return toLock(await getDevice(ref));
    },

    async issueCredential(req: IssueRequest) {
      if (req.kind !== 'pin')
        throw new VendorError('NOT_SUPPORTED', `seam adapter issues pins, not ${req.kind}`);
      if (!req.pin) throw new VendorError('INVALID', 'a Seam access code needs a PIN');
      const name = credentialName(req.operationId);
      if (req.lookupFirst) {
        const existing = await findCode(req.lockRef, name);
        if (existing) return { vendorRef: await settled(existing) };
      }
      // The device's own rules for codes, checked before anything is created.
      checkPinForDevice(req.pin, (await getDevice(req.lockRef)).properties);
      try {
        const code: SeamAccessCode = await guard('access_codes/create', () =>
          seam.accessCodes.create({
            device_id: req.lockRef,
            code: req.pin as string,
            name,
            starts_at: req.validFrom.toISOString(),
            ends_at: req.validUntil.toISOString(),
          }),
        );
        return { vendorRef: await settled(code) };
      } catch (e) {
        // The same PIN for the same period: ours from a run whose answer was lost, or truly a clash.
        if (
          e instanceof VendorError &&
          e.failure === 'DUPLICATE' &&
          e.vendorDetail.includes('access_codes/create')
        ) {
          const existing = await findCode(req.lockRef, name);
          if (existing) return { vendorRef: await settled(existing) };
        }
        throw e;
      }
    },

    async modifyValidity(req: ModifyValidityRequest): Promise<ModifyValidityResult> {
      const ref =
        req.vendorRef ?? (await findCode(req.lockRef, credentialName(req.issueOperationId)))?.access_code_id;
      if (!ref) throw new VendorError('NOT_FOUND', 'no access code of this credential on the device');
      // POST, as every Seam mutation accepts (this SDK line sends PATCH, which the official fake refuses).
      await guard('access_codes/update', () =>
        seam.client.post('/access_codes/update', {
          access_code_id: ref,
          starts_at: req.validFrom.toISOString(),
          ends_at: req.validUntil.toISOString(),
        }),
      );
      return { outcome: 'modified', vendorRef: ref };
    },

    async revokeCredential(req: RevokeRequest) {
      const ref =
        req.vendorRef ?? (await findCode(req.lockRef, credentialName(req.issueOperationId)))?.access_code_id;
      if (!ref) return;
      try {
        await guard('access_codes/delete', () => seam.accessCodes.delete({ access_code_id: ref }));
      } catch (e) {
        if (e instanceof VendorError && e.failure === 'NOT_FOUND') return;
        throw e;
      }
    },

    async remoteUnlock(lockRef) {
      const device = await getDevice(lockRef);
      if (device.can_remotely_unlock === false)
        throw new VendorError(
          'NOT_SUPPORTED',
          'seam device cannot be unlocked remotely (can_remotely_unlock)',
        );
      // The SDK waits for the action attempt. A failed attempt is over (a jammed lock); one that did not end
      // in time may still open the door, so it is an unknown outcome, never retried as if nothing happened.
      try {
        const attempt: SeamActionAttempt = await seam.locks.unlockDoor(
          { device_id: lockRef },
          { waitForActionAttempt: { timeout: deps.timeoutMs, pollingInterval: 200 } },
        );
        if (attempt.status === 'error')
          throw new VendorError('ACTION_FAILED', 'seam unlock_door: the action attempt failed');
      } catch (e) {
        if (e instanceof VendorError) throw e;
        if (isSeamActionAttemptFailedError(e))
          throw new VendorError('ACTION_FAILED', `seam unlock_door: ${e.code}`);
        if (isSeamActionAttemptTimeoutError(e))
          throw new VendorError(
            'OUTCOME_UNKNOWN',
            'seam unlock_door: the action attempt did not end in time',
          );
        throw fromSeam(e, 'locks/unlock_door');
      }
    },

    async getBattery(lockRef) {
      return (
        toLock(await guard('devices/get', () => seam.devices.get({ device_id: lockRef }))).battery ?? null
      );
    },

    async listAccessRecords() {
      throw new VendorError('NOT_SUPPORTED', 'seam access records are not read yet');
    },

    async health() {
      await guard('devices/list', () => seam.devices.list({ limit: 1 }));
    },
  };
}
