/**
 * A Salto Space SHIP-over-HTTP simulator: HTTP Basic, XML `RequestCall`s in ISO-8859-1, `Exception`
 * answers, a door list, users with door permissions and an expiry, and Ethernet encoders that encode a
 * user's card — or time out (403) or lose their connection (401). Guest cards carry their data (SVN), so
 * a user's key is valid only for the window it was encoded with; deleting the user cancels it.
 */
import { randomBytes } from 'node:crypto';
import {
  type BaseFaults,
  type SimReply,
  type SimRequest,
  seededLocks,
  startSimServer,
  type VendorSimulator,
} from '../simServer.ts';
import {
  buildException,
  buildResponse,
  child,
  children,
  fromShipDate,
  list,
  parseShip,
  SHIP_CONTENT_TYPE,
  type ShipParams,
  ShipExceptions,
  type ShipValue,
  text,
} from './wire.ts';

export interface SaltoSpaceSimulatorOptions {
  port?: number;
  host?: string;
  doorCount?: number;
  /** The server's time zone: SHIP times are read and shown as its wall clock (UTC). */
  timezone?: string;
  /**
   * `immediate` (default): a card is on the encoder when an encode starts. `desk`: the encoder waits for
   * `presentCard()` up to `encoderWaitMs` (then Exception 403), busy meanwhile; the wait goes on when
   * the caller hangs up, as the real encoder's does.
   */
  cards?: 'immediate' | 'desk';
  encoderWaitMs?: number;
  /**
   * Space's "more than 64k users" mode: keys are not cancellable through the blacklist unless the user
   * says so (`KeyIsCancellableThroughBlacklist` = 1); otherwise every key is.
   */
  moreThan64kUsers?: boolean;
}

export interface SaltoSpaceFaults extends BaseFaults {
  /** The encoder gets no card in time: every encode answers Exception 403. */
  encoderTimeout: boolean;
  /** The encoder is unreachable from the Space server: Exception 401. */
  encoderOffline: boolean;
  /** The card presented is not Salto media: Exception 402 (modelled). */
  invalidCard: boolean;
}

export const SALTO_SPACE_SIM_DEFAULTS = {
  username: 'ship-user',
  password: 'ship-password',
  encoderId: 'Reception 1',
} as const;

interface SpaceDoor {
  id: string;
  name: string;
  /** Wired to the server (an online door: it has a communication status and takes the blacklist at once). */
  online: boolean;
  /** An online door's link to the server works now (CommStatus 1). */
  comm: boolean;
  /** Offline doors: the cancelled keys they have learnt (carried to them on updated keys). */
  knownBlacklist: Set<string>;
}
/** Every text value of a parameter tree with a space either side. */
function padded(v: ShipValue): ShipValue {
  if (typeof v === 'string') return ` ${v} `;
  if (Array.isArray(v)) return v.map(padded);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, padded(x)]));
}

/** A user that never expires by date (UserExpiration.Enabled = 0). */
const NEVER = '9999-12-31T23:59:59';

interface SpaceUser {
  extUserId: string;
  firstName: string;
  lastName: string;
  activation: string;
  expiration: string;
  doors: string[];
  /** The card last encoded for the user: its ROM code and the window written to it. */
  key: { romCode: string; validFrom: string; validUntil: string } | null;
  keyCancellable: boolean;
}

export interface SaltoSpaceState {
  locks: { ref: string; name: string }[];
  credentials: {
    ref: string;
    lockRef: string;
    kind: 'card';
    romCode: string;
    validFrom: string;
    validUntil: string;
  }[];
}

export interface SaltoSpaceSimulator extends VendorSimulator<SaltoSpaceState, SaltoSpaceFaults> {
  /** A card laid on the encoder (`cards: 'desk'`): true if an encode was waiting for it. */
  presentCard(encoderId?: string): boolean;
  /** Whether an encode is waiting for a card at the encoder. */
  encoderWaiting(encoderId?: string): boolean;
  /** An online door's link to the server goes down or comes back. */
  setDoorComm(doorId: string, ok: boolean): void;
  /** Whether the card would open the door at the instant: its data, the door's blacklist. */
  opens(doorId: string, romCode: string, at: Date): boolean;
  /** An offline door learns the blacklist (a key updated at an SVN point is presented there). */
  spreadBlacklist(doorId: string): void;
  /** Cancelled keys on the server's blacklist (ROM codes), and cards encoded so far. */
  blacklist(): string[];
  cardsEncoded(): number;
}

const reply = (xml: string): SimReply => ({
  status: 200,
  contentType: `${SHIP_CONTENT_TYPE}; charset=ISO-8859-1`,
  body: xml,
  encoding: 'latin1',
});
const exception = (e: { code: number; message: string }, detail?: string) =>
  reply(buildException(e.code, detail ? `${e.message}: ${detail}` : e.message));
/** A SHIP list read: in id order from `StartingFrom…` (inclusive), at most `MaxCount`, and whether that is all. */
function listPage<T>(all: T[], idOf: (x: T) => string, p: ShipParams, fromParam: string) {
  const max = Math.max(1, Number(text(p, 'MaxCount') || 100));
  const from = text(p, fromParam);
  // Ordered as `>=` compares (code units): a locale's order would put ids before `from` that are after it.
  const byId = (a: T, b: T) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0);
  const rest = all.filter((x) => !from || idOf(x) >= from).sort(byId);
  return { page: rest.slice(0, max), eof: rest.length <= max ? '1' : '0' };
}

const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;

export async function startSaltoSpaceSimulator(
  opts: SaltoSpaceSimulatorOptions = {},
): Promise<SaltoSpaceSimulator> {
  const account = SALTO_SPACE_SIM_DEFAULTS;
  let doors = new Map<string, SpaceDoor>();
  let users = new Map<string, SpaceUser>();
  /** Cancelled keys: ROM code → the end of the window on the card (after it, the card lapses anyway). */
  let blacklist = new Map<string, string>();
  /** Keys encoded so far, by ROM code, with their window (a deleted user's card still exists). */
  let cards = new Map<string, { validFrom: string; validUntil: string; doors: string[] }>();
  /** Encodes waiting for a card, by encoder. */
  const waiting = new Map<string, (presented: boolean) => void>();

  /** The seed's doors (`seedDoor`), as many as the option says or `/_sim/locks` asked for since. */
  const seeding = seededLocks({
    count: opts.doorCount ?? 10,
    existing: () => doors.size,
    seedOne: seedDoor,
    refs: () => [...doors.keys()],
  });

  function reset() {
    doors = new Map();
    users = new Map();
    blacklist = new Map();
    cards = new Map();
    seeding.seed();
  }

  /** Door `i` of the seed (0-based): `R401 + i`, every other one online. */
  function seedDoor(i: number) {
    const id = `R${401 + i}`;
    const online = i % 2 === 0;
    doors.set(id, { id, name: `Room ${401 + i}`, online, comm: online, knownBlacklist: new Set() });
  }

  /** A new key for the user, replacing its previous one (one key per user). */
  function encodeFor(u: SpaceUser) {
    u.key = {
      romCode: randomBytes(7).toString('hex').toUpperCase(),
      validFrom: u.activation,
      validUntil: u.expiration,
    };
    cards.set(u.key.romCode, { validFrom: u.activation, validUntil: u.expiration, doors: [...u.doors] });
  }

  /** Waits for a card at the encoder (desk mode): true when one is laid on it in time. */
  function cardAt(encoder: string): Promise<boolean> {
    if (opts.cards !== 'desk') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(encoder);
        resolve(false);
      }, opts.encoderWaitMs ?? 20_000);
      waiting.set(encoder, (presented) => {
        clearTimeout(timer);
        waiting.delete(encoder);
        resolve(presented);
      });
    });
  }

  async function handle(req: SimRequest, f: SaltoSpaceFaults): Promise<SimReply> {
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!basic || Buffer.from(basic, 'base64').toString() !== `${account.username}:${account.password}`)
      return { status: 401, headers: { 'www-authenticate': 'Basic realm="SHIP"' }, body: 'Unauthorized' };
    if (req.method !== 'POST') return { status: 405, body: 'Method Not Allowed' };
    if (!(req.headers['content-type'] ?? '').startsWith(SHIP_CONTENT_TYPE))
      return { status: 415, body: 'Unsupported Media Type' };
    let doc: ReturnType<typeof parseShip>;
    try {
      doc = parseShip(req.rawBody.toString('latin1'));
    } catch {
      return exception(ShipExceptions.XML_ERROR);
    }
    if (doc.kind !== 'call') return exception(ShipExceptions.XML_ERROR, 'expected a RequestCall');
    const p = doc.params;
    // Values padded with spaces, as SHIP servers and public clients write them (`<Code> 502 </Code>`).
    const ok = (params: ShipParams = {}) => reply(buildResponse(doc.name, padded(params) as ShipParams));

    switch (doc.name) {
      case 'GetInfo':
        return ok({
          ProtocolID: 'SHIP',
          ProtocolVersion: '1.36',
          DateTime: new Date().toISOString().slice(0, 19),
        });
      case 'SaltoDBDoorList.Read': {
        const { page, eof } = listPage([...doors.values()], (d) => d.id, p, 'StartingFromExtDoorID');
        return ok({
          SaltoDBDoorList: {
            // No online flag here: an online door's state comes from OnlineDoor.GetOnlineStatusList.
            SaltoDBDoor: page.map((d) => ({ ExtDoorID: d.id, Name: d.name })),
          },
          EOF: eof,
        });
      }
      case 'SaltoDBUserList.Read': {
        const { page, eof } = listPage([...users.values()], (u) => u.extUserId, p, 'StartingFromExtUserID');
        return ok({ SaltoDBUserList: { SaltoDBUser: page.map(userView) }, EOF: eof });
      }
      case 'SaltoDBUser.InsertOrUpdate': {
        const u = child(p, 'SaltoDBUser');
        const extUserId = text(u, 'ExtUserID');
        const activation = text(u, 'UserActivation');
        const expiration = text(u, 'UserExpiration');
        if (!extUserId) return exception(ShipExceptions.INVALID_PARAMS, 'ExtUserID');
        if (!DATE.test(activation) || !DATE.test(expiration) || expiration <= activation)
          return exception(ShipExceptions.INVALID_PARAMS, 'UserActivation/UserExpiration');
        // As Space: only the documented element gives doors; the old DoorIDList is refused here (the real
        // server ignores what it does not know, which makes a card that opens nothing).
        if (u && 'DoorIDList' in u) return exception(ShipExceptions.XML_ERROR, 'unknown element DoorIDList');
        const doorIds = children(
          child(u, 'SaltoDB.AccessPermissionList.User_Door'),
          'SaltoDB.AccessPermission.User_Door',
        )
          .map((x) => text(x, 'ExtDoorID'))
          .filter((d) => d !== '');
        // Without UserExpiration.Enabled = 1 the user never expires by date.
        const expires = text(u, 'UserExpiration.Enabled') === '1';
        const unknown = doorIds.find((d) => !doors.has(d));
        if (unknown) return exception(ShipExceptions.NOT_FOUND, `door ${unknown}`);
        const existing = users.get(extUserId);
        const cancellableSaid = text(u, 'KeyIsCancellableThroughBlacklist');
        users.set(extUserId, {
          extUserId,
          firstName: text(u, 'FirstName'),
          lastName: text(u, 'LastName'),
          activation,
          expiration: expires ? expiration : NEVER,
          doors: doorIds,
          key: existing?.key ?? null,
          keyCancellable: cancellableSaid === '' ? !opts.moreThan64kUsers : cancellableSaid === '1',
        });
        return ok();
      }
      case 'SaltoDBUser.Delete': {
        const id = text(p, 'ExtUserID');
        const u = users.get(id);
        if (!u) return exception(ShipExceptions.NOT_FOUND, `user ${id}`);
        users.delete(id);
        // Its card is cancelled through the blacklist if it may be; otherwise it opens until it lapses.
        if (u.key && u.keyCancellable) blacklist.set(u.key.romCode, u.key.validUntil);
        return ok();
      }
      case 'Encoder.SaltoDBUser.AssignNewKey': {
        const id = text(p, 'ExtUserID');
        const encoder = text(p, 'EncoderID');
        const u = users.get(id);
        if (!u) return exception(ShipExceptions.NOT_FOUND, `user ${id}`);
        if (encoder !== account.encoderId) return exception(ShipExceptions.ENCODER_CONNECTION, encoder);
        if (f.encoderOffline) return exception(ShipExceptions.ENCODER_CONNECTION, encoder);
        if (f.encoderTimeout) return exception(ShipExceptions.ENCODER_TIMEOUT, encoder);
        if (f.invalidCard) return exception(ShipExceptions.CARD_MEDIA);
        if (waiting.has(encoder)) return exception(ShipExceptions.BUSY, encoder);
        if (!(await cardAt(encoder))) return exception(ShipExceptions.ENCODER_TIMEOUT, encoder);
        // The user may have changed or gone while the encoder waited: the card gets what it is now.
        const now = users.get(id);
        if (!now) return exception(ShipExceptions.NOT_FOUND, `user ${id}`);
        encodeFor(now);
        return ok({ ROMCode: now.key?.romCode ?? '' });
      }
      case 'OnlineDoor.GetOnlineStatusList': {
        // The online doors asked for (all of them when the list is empty); offline doors have no status.
        const asked = list(child(p, 'ExtDoorIDList'), 'ExtDoorID').map((x) => String(x).trim());
        const online = [...doors.values()].filter(
          (d) => d.online && (asked.length === 0 || asked.includes(d.id)),
        );
        return ok({
          OnlineDoorStatusList: {
            OnlineDoorStatus: online.map((d) => ({
              DoorID: d.id,
              DoorType: '1',
              CommStatus: d.comm ? '1' : '0',
              DoorStatus: d.comm ? '1' : '-1',
              BatteryStatus: d.comm ? '0' : '-1',
              TamperStatus: d.comm ? '0' : '-1',
            })),
          },
        });
      }
      case 'OnlineDoor.Open': {
        // By external id (ExtDoorIDList) or by the door's name (DoorNameList), as public SHIP clients send them.
        const byName = new Map([...doors.values()].map((d) => [d.name, d.id]));
        const ids = [
          ...list(child(p, 'ExtDoorIDList'), 'ExtDoorID').map((x) => String(x).trim()),
          ...list(child(p, 'DoorNameList'), 'DoorID').map((x) => byName.get(String(x).trim()) ?? String(x)),
        ];
        if (ids.length === 0) return exception(ShipExceptions.INVALID_PARAMS, 'ExtDoorIDList');
        for (const id of ids) {
          const d = doors.get(id);
          if (!d) return exception(ShipExceptions.NOT_FOUND, `door ${id}`);
          if (!d.online || !d.comm) return exception(ShipExceptions.DOOR_OFFLINE, id);
        }
        return ok();
      }
      default:
        return exception(ShipExceptions.NOT_SUPPORTED, doc.name);
    }
  }

  function userView(u: SpaceUser): ShipParams {
    return {
      ExtUserID: u.extUserId,
      FirstName: u.firstName,
      LastName: u.lastName,
      UserActivation: u.activation,
      'UserExpiration.Enabled': u.expiration === NEVER ? '0' : '1',
      UserExpiration: u.expiration === NEVER ? '2000-01-01T00:00:00' : u.expiration,
      'SaltoDB.AccessPermissionList.User_Door': {
        'SaltoDB.AccessPermission.User_Door': u.doors.map((d) => ({ ExtDoorID: d })),
      },
      KeyIsCancellableThroughBlacklist: u.keyCancellable ? '1' : '0',
      CurrentKeyExists: u.key ? '1' : '0',
      ...(u.key
        ? {
            CurrentROMCode: u.key.romCode,
            CurrentKeyPeriod: { StartDate: u.key.validFrom, EndDate: u.key.validUntil },
          }
        : {}),
    };
  }

  function state(): SaltoSpaceState {
    return {
      locks: [...doors.values()].map((d) => ({ ref: d.id, name: d.name })),
      credentials: [...users.values()].flatMap((u) =>
        u.key
          ? u.doors.map((lockRef) => ({
              ref: u.extUserId,
              lockRef,
              kind: 'card' as const,
              romCode: u.key?.romCode ?? '',
              validFrom: fromShipDate(u.key?.validFrom ?? '', opts.timezone).toISOString(),
              validUntil: fromShipDate(u.key?.validUntil ?? '', opts.timezone).toISOString(),
            }))
          : [],
      ),
    };
  }

  const server = await startSimServer<SaltoSpaceState, SaltoSpaceFaults>({
    port: opts.port,
    host: opts.host,
    initialFaults: {
      latencyMs: 0,
      outage: false,
      encoderTimeout: false,
      encoderOffline: false,
      invalidCard: false,
    },
    reset,
    state,
    setLocks: seeding.setLocks,
    handle,
  });
  const door = (id: string) => {
    const d = doors.get(id);
    if (!d) throw new Error(`no door ${id}`);
    return d;
  };
  return {
    ...server,
    presentCard(encoderId = account.encoderId) {
      const job = waiting.get(encoderId);
      job?.(true);
      return job !== undefined;
    },
    encoderWaiting: (encoderId = account.encoderId) => waiting.has(encoderId),
    setDoorComm(doorId, ok) {
      door(doorId).comm = ok;
    },
    opens(doorId, romCode, at) {
      const card = cards.get(romCode);
      if (!card || !card.doors.includes(doorId)) return false;
      const wall = (x: string) => fromShipDate(x, opts.timezone).getTime();
      if (at.getTime() < wall(card.validFrom) || at.getTime() >= wall(card.validUntil)) return false;
      const d = door(doorId);
      // An online door checks the server's blacklist; an offline one only what it has learnt.
      return d.online && d.comm ? !blacklist.has(romCode) : !d.knownBlacklist.has(romCode);
    },
    spreadBlacklist(doorId) {
      for (const rom of blacklist.keys()) door(doorId).knownBlacklist.add(rom);
    },
    blacklist: () => [...blacklist.keys()],
    cardsEncoded: () => cards.size,
  };
}
