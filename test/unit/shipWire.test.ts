/** SHIP documents: built and read back, exceptions mapped, repeated elements always lists, ISO-8859-1 bytes. */
import { describe, expect, it } from 'vitest';
import {
  buildCall,
  buildException,
  buildResponse,
  children,
  failureOfShipCode,
  fromShipDate,
  parseShip,
  shipDate,
} from '../../src/io/vendors/saltoSpace/wire.ts';

describe('SHIP wire', () => {
  it('SHIP: a call reads back as sent, one DoorID still a list, text escaped', () => {
    const xml = buildCall('OnlineDoor.Open', { DoorNameList: { DoorID: ['R401'] }, Note: 'a < b & "c"' });
    expect(xml.startsWith('<?xml version="1.0" encoding="ISO-8859-1"?><RequestCall>')).toBe(true);
    expect(parseShip(xml)).toEqual({
      kind: 'call',
      name: 'OnlineDoor.Open',
      params: { DoorNameList: { DoorID: ['R401'] }, Note: 'a < b & "c"' },
    });
  });

  it('SHIP: a response with one door gives a list of one; names survive ISO-8859-1 bytes', () => {
    const xml = buildResponse('SaltoDBDoorList.Read', {
      SaltoDBDoorList: { SaltoDBDoor: [{ ExtDoorID: 'R401', Name: 'Salón Müller' }] },
      EOF: '1',
    });
    const bytes = Buffer.from(xml, 'latin1');
    expect(bytes.includes(Buffer.from([0xf3]))).toBe(true); // ó as one ISO-8859-1 byte
    const doc = parseShip(bytes.toString('latin1'));
    expect(doc.kind).toBe('response');
    const doors = doc.kind === 'response' ? children(doc.params.SaltoDBDoorList as never, 'SaltoDBDoor') : [];
    expect(doors).toEqual([{ ExtDoorID: 'R401', Name: 'Salón Müller' }]);
  });

  it('SHIP: exceptions carry their code; known codes map, unknown ones are permanent INVALID', () => {
    expect(parseShip(buildException(403, 'Encoder timeout'))).toEqual({
      kind: 'exception',
      code: 403,
      message: 'Encoder timeout',
    });
    expect([403, 401, 4, 12, 999].map(failureOfShipCode)).toEqual([
      'ENCODER_TIMEOUT',
      'OFFLINE',
      'NOT_SUPPORTED',
      'INVALID',
      'INVALID',
    ]);
    expect(() => parseShip('<Other/>')).toThrow('not a SHIP document');
    expect(() => parseShip('garbage <<')).toThrow();
  });
});

describe('SHIP times', () => {
  it("SHIP: times are the server's wall clock in its zone, both ways, in winter and in summer", () => {
    for (const [iso, wall] of [
      ['2026-12-03T11:00:00.000Z', '2026-12-03T12:00:00'],
      ['2026-07-03T11:00:00.000Z', '2026-07-03T13:00:00'],
    ] as const) {
      expect(shipDate(new Date(iso), 'Europe/Berlin')).toBe(wall);
      expect(fromShipDate(wall, 'Europe/Berlin').toISOString()).toBe(iso);
    }
    expect(fromShipDate(' 2026-12-03T24:00:00 ', 'Europe/Berlin').toISOString()).toBe(
      '2026-12-03T23:00:00.000Z',
    );
    expect(shipDate(new Date('2026-12-03T11:00:00Z'))).toBe('2026-12-03T11:00:00');
  });
});
