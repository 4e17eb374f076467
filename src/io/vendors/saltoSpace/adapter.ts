/**
 * Salto Space adapter over SHIP (HTTP transport). A grant is a Space user named after the operation,
 * with the door and the stay, and a guest card encoded for it at the property's Ethernet encoder. Guest
 * cards carry their data (SVN), so validity cannot change in place: the credential's machine revokes and
 * encodes again. Revoke deletes the user, which cancels its card.
 */
import type { EgressPolicy } from '../egress.ts';
import { createVendorHttp } from '../http.ts';
import {
  credentialName,
  type IssueRequest,
  type IssueResult,
  type LockAdapter,
  type ModifyValidityResult,
  type RevokeRequest,
  type VendorCapabilities,
  VendorError,
  type VendorLock,
} from '../port.ts';
import {
  buildCall,
  child,
  children,
  failureOfShipCode,
  parseShip,
  SHIP_CONTENT_TYPE,
  type ShipParams,
  isTimeZone,
  shipDate,
  text,
} from './wire.ts';

export interface SaltoSpaceConfig {
  /** The SHIP server, e.g. http://space-server:8100. */
  baseUrl: string;
  username: string;
  password: string;
  /** The Ethernet encoder (its name in Space) that encodes this property's guest cards. */
  encoderId: string;
  /** The time zone the Space server keeps (IANA, e.g. Europe/Berlin): SHIP times are its wall clock. UTC if absent. */
  timezone?: string;
}

export interface SaltoSpaceAdapterDeps {
  /** Live mode: where calls may connect (egress.ts). */
  egress?: EgressPolicy;
  config: SaltoSpaceConfig;
  timeoutMs: number;
}

export const capabilities: VendorCapabilities = {
  vendor: 'salto-space',
  kinds: ['card'],
  updateValidityInPlace: false,
  remoteUnlock: true,
  battery: false,
  callerChosenPin: true,
  accessRecords: false,
  cardNumbers: false,
  mobileKeyRecipients: false,
  // An encode waits for a card presented at the desk's encoder.
  issuesPromptly: false,
};

const PAGE = 100;
/**
 * An encode waits for a card to be presented at the encoder: long enough for a guest at the desk, short
 * enough that a card never presented frees the encoder (the runner renews its claim meanwhile).
 */
const ENCODE_TIMEOUT_MS = 20_000;

export function createSaltoSpaceAdapter(deps: SaltoSpaceAdapterDeps): LockAdapter {
  const timeZone = deps.config.timezone ?? 'UTC';
  /** The configured zone, or a permanent refusal if it is not one (no card with times an hour off). */
  const zone = () => {
    if (!isTimeZone(timeZone))
      throw new VendorError('INVALID', `salto-space timezone ${timeZone} is not a time zone`);
    return timeZone;
  };
  const { config, timeoutMs } = deps;
  const http = createVendorHttp({
    timeoutMs: Math.max(timeoutMs, ENCODE_TIMEOUT_MS),
    connections: 8,
    ...(deps.egress ? { egress: deps.egress } : {}),
  });
  const authorization = `Basic ${Buffer.from(`${config.username}:${config.password}`).toString('base64')}`;

  async function call(name: string, params: ShipParams = {}): Promise<ShipParams> {
    const res = await http.send(`salto-space ${name}`, config.baseUrl, {
      method: 'POST',
      headers: { authorization, 'content-type': `${SHIP_CONTENT_TYPE}; charset=ISO-8859-1` },
      body: Buffer.from(buildCall(name, params), 'latin1'),
      encoding: 'latin1',
    });
    if (res.status === 401 || res.status === 403)
      throw new VendorError('AUTH', `salto-space ${name} HTTP ${res.status}`);
    if (res.status >= 500 || res.status === 404)
      throw new VendorError('OFFLINE', `salto-space ${name} HTTP ${res.status}`);
    if (res.status !== 200 || typeof res.body !== 'string')
      throw new VendorError('INVALID', `salto-space ${name} HTTP ${res.status}`);
    let doc: ReturnType<typeof parseShip>;
    try {
      doc = parseShip(res.body);
    } catch {
      throw new VendorError('OFFLINE', `salto-space ${name} answered with a body that is not SHIP`);
    }
    if (doc.kind === 'exception')
      throw new VendorError(
        failureOfShipCode(doc.code),
        `salto-space ${name} exception ${doc.code} ${doc.message}`,
      );
    if (doc.kind !== 'response') throw new VendorError('INVALID', `salto-space ${name} answered a call`);
    return doc.params;
  }

  /** Pages through a SHIP list read, each page starting from the last id seen. */
  async function readAll(
    name: string,
    listTag: string,
    itemTag: string,
    idTag: string,
  ): Promise<ShipParams[]> {
    const out: ShipParams[] = [];
    let from = '';
    for (;;) {
      const p = await call(name, {
        MaxCount: String(PAGE),
        ...(from ? { [`StartingFrom${idTag}`]: from } : {}),
      });
      const page = children(child(p, listTag), itemTag);
      out.push(...page.filter((x) => text(x, idTag) !== from));
      const last = page.at(-1);
      if (text(p, 'EOF') === '1' || !last || text(last, idTag) === from) return out;
      from = text(last, idTag);
    }
  }

  async function findUser(extUserId: string): Promise<ShipParams | undefined> {
    // A few, not one: the server's order of ids is not documented, and the exact id is matched below.
    const p = await call('SaltoDBUserList.Read', { MaxCount: '10', StartingFromExtUserID: extUserId });
    return children(child(p, 'SaltoDBUserList'), 'SaltoDBUser').find(
      (u) => text(u, 'ExtUserID') === extUserId,
    );
  }

  /**
   * The link state of online doors (`OnlineDoor.GetOnlineStatusList`, `CommStatus` 1 communicating, 0 not,
   * -1 unknown), by door id. A door absent from the answer is an offline (data-on-card) door: it has no
   * link to report, so its state is unknown, not "down".
   */
  async function commStatus(doorIds: string[]): Promise<Map<string, boolean | null>> {
    const out = new Map<string, boolean | null>();
    for (let i = 0; i < doorIds.length; i += PAGE) {
      const p = await call('OnlineDoor.GetOnlineStatusList', {
        ExtDoorIDList: { ExtDoorID: doorIds.slice(i, i + PAGE) },
      });
      for (const s of children(child(p, 'OnlineDoorStatusList'), 'OnlineDoorStatus')) {
        const comm = text(s, 'CommStatus');
        out.set(text(s, 'DoorID'), comm === '1' ? true : comm === '0' ? false : null);
      }
    }
    return out;
  }

  async function withStatus(list: ShipParams[]): Promise<VendorLock[]> {
    const ids = list.map((d) => text(d, 'ExtDoorID'));
    // The doors are known whether or not their link state can be read now: unknown, then.
    const status =
      ids.length > 0
        ? await commStatus(ids).catch((e: unknown) => {
            if (e instanceof VendorError) return new Map<string, boolean | null>();
            throw e;
          })
        : new Map<string, boolean | null>();
    return list.map((d) => {
      const ref = text(d, 'ExtDoorID');
      const name = text(d, 'Name');
      // Public clients show DoorID holding the id a door was asked by (matched to the external id only: a
      // name may equal another door's id).
      return { ref, name: name || ref, battery: null, online: status.get(ref) ?? null };
    });
  }

  async function doors(): Promise<VendorLock[]> {
    return withStatus(await readAll('SaltoDBDoorList.Read', 'SaltoDBDoorList', 'SaltoDBDoor', 'ExtDoorID'));
  }

  return {
    vendor: 'salto-space',
    capabilities: () => capabilities,

    listLocks: doors,

    async getLock(ref) {
      const p = await call('SaltoDBDoorList.Read', { MaxCount: '1', StartingFromExtDoorID: ref });
      const d = children(child(p, 'SaltoDBDoorList'), 'SaltoDBDoor').find(
        (x) => text(x, 'ExtDoorID') === ref,
      );
      if (!d) throw new VendorError('NOT_FOUND', 'no such door in Salto Space');
      const [lock] = await withStatus([d]);
      if (!lock) throw new VendorError('NOT_FOUND', 'no such door in Salto Space');
      return lock;
    },

    async issueCredential(req: IssueRequest): Promise<IssueResult> {
      if (req.kind !== 'card')
        throw new VendorError('NOT_SUPPORTED', `salto-space adapter encodes cards, not ${req.kind}`);
      const extUserId = credentialName(req.operationId);
      if (req.lookupFirst) {
        // An earlier run encoded the card but its answer was lost: the user holds a valid key already.
        const existing = await findUser(extUserId);
        if (existing && text(existing, 'CurrentKeyExists') === '1') return { vendorRef: extUserId };
      }
      await call('SaltoDBUser.InsertOrUpdate', {
        SaltoDBUser: {
          ExtUserID: extUserId,
          FirstName: 'Guest',
          LastName: extUserId,
          UserActivation: shipDate(req.validFrom, zone()),
          // Without it the user (and the card) never expires by date.
          'UserExpiration.Enabled': '1',
          UserExpiration: shipDate(req.validUntil, zone()),
          // A revoke must be able to cancel the card (through the blacklist); Space's "more than 64k users"
          // mode makes keys non-cancellable unless the user says so: such a card would open until it lapses.
          KeyIsCancellableThroughBlacklist: '1',
          // The doors a user may open (an unknown element such as DoorIDList is ignored: a card that opens nothing).
          'SaltoDB.AccessPermissionList.User_Door': {
            'SaltoDB.AccessPermission.User_Door': [{ ExtDoorID: req.lockRef }],
          },
        },
      });
      await call('Encoder.SaltoDBUser.AssignNewKey', { ExtUserID: extUserId, EncoderID: config.encoderId });
      return { vendorRef: extUserId };
    },

    async modifyValidity(): Promise<ModifyValidityResult> {
      return { outcome: 'reissue_required' };
    },

    async revokeCredential(req: RevokeRequest) {
      const extUserId = req.vendorRef ?? credentialName(req.issueOperationId);
      try {
        await call('SaltoDBUser.Delete', { ExtUserID: extUserId });
      } catch (e) {
        if (!(e instanceof VendorError && e.failure === 'NOT_FOUND')) throw e;
      }
    },

    async remoteUnlock(lockRef) {
      // By the door's external id (DoorNameList names doors by their name).
      await call('OnlineDoor.Open', { ExtDoorIDList: { ExtDoorID: [lockRef] } });
    },

    async getBattery() {
      return null;
    },

    async listAccessRecords() {
      throw new VendorError('NOT_SUPPORTED', 'salto-space access records are not read yet');
    },

    async health() {
      await call('GetInfo');
    },
  };
}
