/**
 * SHIP (SALTO Hospitality Interface Protocol) over HTTP: an XML `RequestCall` posted with the SHIP media
 * type, answered by a `RequestResponse` or an `Exception`. Both ends (adapter and simulator) build and
 * read documents here. Names marked "modelled" are not in public sources (reference/vendors.md §2.2).
 */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import type { VendorFailure } from '../port.ts';

export const SHIP_CONTENT_TYPE = 'application/vnd.saltosystems.ship.v1+xml';
const DECLARATION = '<?xml version="1.0" encoding="ISO-8859-1"?>';

/** A SHIP parameter tree: element name → text, nested tree, or repeated elements. */
export type ShipValue = string | ShipParams | ShipValue[];
export interface ShipParams {
  [name: string]: ShipValue;
}

/** Elements that repeat, read as arrays even when one is present. */
const REPEATED = new Set([
  'SaltoDBDoor',
  'SaltoDBUser',
  'OnlineDoorStatus',
  'SaltoDB.AccessPermission.User_Door',
]);
/** Repeated only inside a list element (a door's own ExtDoorID, a status's DoorID, is one value). */
const REPEATED_IN: Record<string, string> = { ExtDoorID: 'ExtDoorIDList', DoorID: 'DoorNameList' };

const builder = new XMLBuilder({ format: false });
const parser = new XMLParser({
  parseTagValue: false,
  ignoreDeclaration: true,
  isArray: (name, jpath) =>
    REPEATED.has(name) || (name in REPEATED_IN && String(jpath).endsWith(`${REPEATED_IN[name]}.${name}`)),
});

export function buildCall(name: string, params: ShipParams): string {
  return DECLARATION + builder.build({ RequestCall: { RequestName: name, Params: params } });
}

export function buildResponse(name: string, params: ShipParams): string {
  return DECLARATION + builder.build({ RequestResponse: { RequestName: name, Params: params } });
}

export function buildException(code: number, message: string): string {
  return (
    DECLARATION + builder.build({ RequestResponse: { Exception: { Code: String(code), Message: message } } })
  );
}

export type ShipDocument =
  | { kind: 'call'; name: string; params: ShipParams }
  | { kind: 'response'; name: string; params: ShipParams }
  | { kind: 'exception'; code: number; message: string };

/** Reads a SHIP document; throws on anything that is not one (the caller answers code 12). */
export function parseShip(xml: string): ShipDocument {
  const doc = parser.parse(xml, true) as Record<string, unknown>;
  const call = doc.RequestCall as { RequestName?: unknown; Params?: unknown } | undefined;
  if (call && typeof call.RequestName === 'string')
    return { kind: 'call', name: call.RequestName, params: asParams(call.Params) };
  const res = doc.RequestResponse as
    | { RequestName?: unknown; Params?: unknown; Exception?: { Code?: unknown; Message?: unknown } }
    | undefined;
  if (res?.Exception)
    return {
      kind: 'exception',
      code: Number(res.Exception.Code),
      message: String(res.Exception.Message ?? ''),
    };
  if (res && typeof res.RequestName === 'string')
    return { kind: 'response', name: res.RequestName, params: asParams(res.Params) };
  throw new Error('not a SHIP document');
}

const asParams = (v: unknown): ShipParams => (v && typeof v === 'object' ? (v as ShipParams) : {});

/**
 * A text element of a parameter tree ('' when absent or not text), without the spaces SHIP servers and
 * clients pad values with (`<Code> 502 </Code>`, seen in public SHIP clients).
 */
export const text = (p: ShipParams | undefined, name: string): string => {
  const v = p?.[name];
  return typeof v === 'string' ? v.trim() : '';
};

/** A nested element of a parameter tree (the first, where the element may repeat). */
export const child = (p: ShipParams | undefined, name: string): ShipParams | undefined => {
  const v = p?.[name];
  const first = Array.isArray(v) ? v[0] : v;
  return first && typeof first === 'object' && !Array.isArray(first) ? first : undefined;
};

/** The repeated nested elements of a parameter tree. */
export const children = (p: ShipParams | undefined, name: string): ShipParams[] =>
  list(p, name).filter((x): x is ShipParams => typeof x === 'object' && !Array.isArray(x));

/** Repeated elements of a parameter tree. */
export const list = (p: ShipParams | undefined, name: string): ShipValue[] => {
  const v = p?.[name];
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
};

/**
 * SHIP date-times carry no zone: they are the Space server's local wall clock, in the time zone the server
 * runs in (the property's, unless the adapter is told another). Written and read in that zone here.
 */
export function shipDate(d: Date, timeZone = 'UTC'): string {
  if (timeZone === 'UTC') return d.toISOString().slice(0, 19);
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(d);
  const part = (t: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === t)?.value ?? '00';
  return `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}:${part('second')}`;
}

/** A SHIP time in `timeZone`; `T24:00:00` (how Space writes the end of a day) is the next day's midnight. */
export function fromShipDate(s: string, timeZone = 'UTC'): Date {
  const t = s.trim();
  const endOfDay = /^(\d{4}-\d{2}-\d{2})T24:00:00$/.exec(t);
  const wall = endOfDay
    ? new Date(`${endOfDay[1]}T00:00:00Z`).getTime() + 86_400_000
    : new Date(`${t}Z`).getTime();
  if (timeZone === 'UTC' || Number.isNaN(wall)) return new Date(wall);
  // The instant whose wall clock in the zone reads `wall`: subtract the zone's offset, found twice (DST).
  const offset = (instant: number) =>
    new Date(`${shipDate(new Date(instant), timeZone)}Z`).getTime() - instant;
  const first = wall - offset(wall);
  return new Date(wall - offset(first));
}

/** Whether the name is a time zone this runtime knows (IANA). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** SHIP exception codes, known and modelled, with what each means for the service. */
export const ShipExceptions = {
  NOT_SUPPORTED: { code: 4, failure: 'NOT_SUPPORTED', message: 'Operation not supported' },
  XML_ERROR: { code: 12, failure: 'INVALID', message: 'XML document error' },
  ENCODER_CONNECTION: { code: 401, failure: 'OFFLINE', message: 'Encoder connection error' },
  ENCODER_TIMEOUT: { code: 403, failure: 'ENCODER_TIMEOUT', message: 'Encoder timeout' },
  // Modelled: codes for these cases are not public.
  NOT_FOUND: { code: 100, failure: 'NOT_FOUND', message: 'Object not found' },
  DOOR_OFFLINE: { code: 101, failure: 'OFFLINE', message: 'Door is not online' },
  INVALID_PARAMS: { code: 102, failure: 'INVALID', message: 'Invalid parameter' },
  CARD_MEDIA: { code: 402, failure: 'CARD_MEDIA', message: 'Invalid key in encoder' },
  BUSY: { code: 404, failure: 'BUSY', message: 'Encoder busy' },
} as const satisfies Record<string, { code: number; failure: VendorFailure; message: string }>;

const byCode = new Map<number, VendorFailure>(Object.values(ShipExceptions).map((e) => [e.code, e.failure]));

/** The normalized failure of a SHIP exception code (an unknown code is permanent: INVALID). */
export function failureOfShipCode(code: number): VendorFailure {
  return byCode.get(code) ?? 'INVALID';
}
