/**
 * ASSA ABLOY Vostio adapter over a REST API behind mutual TLS. The API is modelled, not known (no public
 * reference; docs/vendors/vostio.md): guest card keys encoded at the property's cloud-connected encoder,
 * one key per grant, idempotent by `externalId` (the operation's credential name). Validity changes in
 * place where every door is on Vostio Online; otherwise the vendor says to encode again and the
 * credential's machine reissues.
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
  type VendorFailure,
  type VendorLock,
} from '../port.ts';

export interface VostioConfig {
  baseUrl: string;
  siteId: string;
  encoderId: string;
  /** PEM: the CA that signs Vostio's server certificate. */
  ca: string;
  /** PEM: this integration's client certificate and its private key (a secret reference in configs). */
  clientCert: string;
  clientKey: string;
}

export interface VostioAdapterDeps {
  /** Live mode: where calls may connect (egress.ts). */
  egress?: EgressPolicy;
  config: VostioConfig;
  clock: Clock;
  timeoutMs: number;
}

export const capabilities: VendorCapabilities = {
  vendor: 'vostio',
  kinds: ['card'],
  // In place on Vostio Online doors; elsewhere `modifyValidity` answers reissue_required.
  updateValidityInPlace: true,
  remoteUnlock: true,
  battery: true,
  callerChosenPin: true,
  accessRecords: false,
  cardNumbers: false,
  mobileKeyRecipients: false,
  // An encode waits for a card presented at the desk's encoder.
  issuesPromptly: false,
};

interface VostioDoor {
  id: string;
  name: string;
  online?: boolean;
  batteryLevel?: number;
}
interface VostioKey {
  id: string;
  externalId: string;
}
interface VostioError {
  error?: { code?: string; message?: string; keyId?: string };
}

/** Vostio error codes (modelled) that say more than the HTTP status. */
const byCode: Record<string, VendorFailure> = {
  DUPLICATE_EXTERNAL_ID: 'DUPLICATE',
  ENCODER_TIMEOUT: 'ENCODER_TIMEOUT',
  ENCODER_OFFLINE: 'OFFLINE',
  DOOR_OFFLINE: 'OFFLINE',
  FORBIDDEN: 'PERMISSION',
  INVALID_REQUEST: 'INVALID',
};

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

class VostioCallError extends VendorError {
  constructor(
    failure: VendorFailure,
    detail: string,
    readonly vendorCode: string | undefined,
    readonly body: VostioError,
    retryAfter: number | undefined,
  ) {
    super(failure, detail, retryAfter === undefined ? {} : { retryAfterMs: retryAfter });
  }
}

export function createVostioAdapter(deps: VostioAdapterDeps): LockAdapter {
  const { config, clock, timeoutMs } = deps;
  const http = createVendorHttp({
    timeoutMs,
    connect: { ca: config.ca, cert: config.clientCert, key: config.clientKey },
    ...(deps.egress ? { egress: deps.egress } : {}),
  });
  const site = `${config.baseUrl}/v1/sites/${encodeURIComponent(config.siteId)}`;

  async function call<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const what = `vostio ${method} ${path.split(/[/?]/)[1] ?? ''}`;
    const res = await http.send(what, `${site}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    if (res.status >= 200 && res.status < 300) return res.body as T;
    const e = (res.body ?? {}) as VostioError;
    const code = e.error?.code;
    throw new VostioCallError(
      (code && byCode[code]) || failureOfStatus(res.status),
      `${what} HTTP ${res.status} ${code ?? ''}`.trim(),
      code,
      e,
      retryAfterMs(res.headers['retry-after'], clock.now().getTime()),
    );
  }

  const findKey = async (externalId: string) =>
    (await call<{ keys: VostioKey[] }>('GET', `/keys?externalId=${encodeURIComponent(externalId)}`)).keys[0];

  const toLock = (d: VostioDoor): VendorLock => ({
    ref: d.id,
    name: d.name,
    battery: d.batteryLevel ?? null,
    online: d.online ?? null,
  });

  async function getLock(ref: string): Promise<VendorLock> {
    return toLock(await call<VostioDoor>('GET', `/doors/${encodeURIComponent(ref)}`));
  }

  return {
    vendor: 'vostio',
    capabilities: () => capabilities,

    async listLocks() {
      return (await call<{ doors: VostioDoor[] }>('GET', '/doors')).doors.map(toLock);
    },

    getLock,

    async issueCredential(req: IssueRequest): Promise<IssueResult> {
      if (req.kind !== 'card')
        throw new VendorError('NOT_SUPPORTED', `vostio adapter encodes cards, not ${req.kind}`);
      const externalId = credentialName(req.operationId);
      try {
        const key = await call<VostioKey>('POST', '/keys', {
          externalId,
          encoderId: config.encoderId,
          doorIds: [req.lockRef],
          validFrom: req.validFrom.toISOString(),
          validTo: req.validUntil.toISOString(),
        });
        return { vendorRef: key.id };
      } catch (e) {
        // An earlier run made it and its answer was lost: the vendor names the key it holds.
        if (e instanceof VostioCallError && e.vendorCode === 'DUPLICATE_EXTERNAL_ID') {
          const id = e.body.error?.keyId ?? (await findKey(externalId))?.id;
          if (id) return { vendorRef: id };
        }
        throw e;
      }
    },

    async modifyValidity(req: ModifyValidityRequest): Promise<ModifyValidityResult> {
      const id = req.vendorRef ?? (await findKey(credentialName(req.issueOperationId)))?.id;
      if (!id) throw new VendorError('NOT_FOUND', 'no key of this credential');
      try {
        await call('PATCH', `/keys/${encodeURIComponent(id)}`, {
          validFrom: req.validFrom.toISOString(),
          validTo: req.validUntil.toISOString(),
        });
        return { outcome: 'modified', vendorRef: id };
      } catch (e) {
        if (e instanceof VostioCallError && e.vendorCode === 'REENCODE_REQUIRED')
          return { outcome: 'reissue_required' };
        throw e;
      }
    },

    async revokeCredential(req: RevokeRequest) {
      const id = req.vendorRef ?? (await findKey(credentialName(req.issueOperationId)))?.id;
      if (!id) return;
      try {
        await call('DELETE', `/keys/${encodeURIComponent(id)}`);
      } catch (e) {
        if (!(e instanceof VendorError && e.failure === 'NOT_FOUND')) throw e;
      }
    },

    async remoteUnlock(lockRef) {
      await call('POST', `/doors/${encodeURIComponent(lockRef)}/unlock`, {});
    },

    async getBattery(lockRef) {
      return (await getLock(lockRef)).battery ?? null;
    },

    async listAccessRecords() {
      throw new VendorError('NOT_SUPPORTED', 'vostio access records are not read yet');
    },

    async health() {
      await call('GET', '/doors');
    },
  };
}
