/**
 * Salto Space over SHIP, held to what public SHIP clients send and read (sources in docs/vendors/salto-space.md):
 * a card's doors are `SaltoDB.AccessPermissionList.User_Door › SaltoDB.AccessPermission.User_Door › ExtDoorID`
 * (the old `DoorIDList` opened nothing), it expires by date only with `UserExpiration.Enabled` = 1, an encoded
 * card is found again by `CurrentKeyExists`, remote opening names doors in `ExtDoorIDList`, and every value may
 * come padded with spaces. The simulator refuses the old element names.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LockAdapter } from '../../src/io/vendors/port.ts';
import { createSaltoSpaceAdapter } from '../../src/io/vendors/saltoSpace/adapter.ts';
import {
  SALTO_SPACE_SIM_DEFAULTS,
  type SaltoSpaceSimulator,
  startSaltoSpaceSimulator,
} from '../../src/io/vendors/saltoSpace/index.ts';
import { buildCall } from '../../src/io/vendors/saltoSpace/wire.ts';

describe('salto-space over SHIP', () => {
  let sim: SaltoSpaceSimulator;
  let adapter: LockAdapter;
  const window = {
    validFrom: new Date('2026-12-01T14:00:00Z'),
    validUntil: new Date('2026-12-03T11:00:00Z'),
  };

  beforeAll(async () => {
    sim = await startSaltoSpaceSimulator();
    adapter = createSaltoSpaceAdapter({
      config: { baseUrl: sim.url, ...SALTO_SPACE_SIM_DEFAULTS },
      timeoutMs: 2000,
    });
  });
  afterAll(() => sim?.close());

  const door = () => sim.state().locks[0]?.ref ?? '';

  it('salto-space: a card opens its door and expires with the stay', async () => {
    const r = await adapter.issueCredential({
      operationId: randomUUID(),
      lockRef: door(),
      kind: 'card',
      pin: null,
      lookupFirst: false,
      ...window,
    });
    const held = sim.state().credentials.filter((c) => c.ref === r.vendorRef);
    expect(held.map((c) => [c.lockRef, c.validUntil])).toEqual([[door(), window.validUntil.toISOString()]]);
  });

  it('salto-space: a re-run finds the encoded card (CurrentKeyExists) and does not encode another', async () => {
    const operationId = randomUUID();
    const issue = (lookupFirst: boolean) =>
      adapter.issueCredential({
        operationId,
        lockRef: door(),
        kind: 'card',
        pin: null,
        lookupFirst,
        ...window,
      });
    const first = await issue(false);
    const rom = sim.state().credentials.find((c) => c.ref === first.vendorRef)?.romCode;
    await issue(true);
    expect(sim.state().credentials.find((c) => c.ref === first.vendorRef)?.romCode).toBe(rom);
  });

  it('salto-space: the simulator refuses the old DoorIDList, as a card made with it would open nothing', async () => {
    const body = buildCall('SaltoDBUser.InsertOrUpdate', {
      SaltoDBUser: {
        ExtUserID: 'old-style',
        UserActivation: '2026-12-01T14:00:00',
        'UserExpiration.Enabled': '1',
        UserExpiration: '2026-12-03T11:00:00',
        DoorIDList: { DoorID: [door()] },
      },
    });
    const res = await fetch(sim.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/vnd.saltosystems.ship.v1+xml',
        authorization: `Basic ${Buffer.from(`${SALTO_SPACE_SIM_DEFAULTS.username}:${SALTO_SPACE_SIM_DEFAULTS.password}`).toString('base64')}`,
      },
      body,
    });
    expect(await res.text()).toMatch(/<Exception><Code> ?12 ?<\/Code>/);
  });

  it('salto-space: remote opening names the door by its external id', async () => {
    await expect(adapter.remoteUnlock(door())).resolves.toBeUndefined();
  });

  it("salto-space: times are the Space server's wall clock: with its time zone the card holds the stay, without it an hour off", async () => {
    const berlin = await startSaltoSpaceSimulator({ timezone: 'Europe/Berlin' });
    try {
      const issue = (timezone?: string) =>
        createSaltoSpaceAdapter({
          config: { baseUrl: berlin.url, ...SALTO_SPACE_SIM_DEFAULTS, ...(timezone ? { timezone } : {}) },
          timeoutMs: 2000,
        }).issueCredential({
          operationId: randomUUID(),
          lockRef: berlin.state().locks[0]?.ref ?? '',
          kind: 'card',
          pin: null,
          lookupFirst: false,
          ...window,
        });
      const held = (ref: string) => berlin.state().credentials.find((c) => c.ref === ref);
      const zoned = await issue('Europe/Berlin');
      expect(held(zoned.vendorRef)).toMatchObject({
        validFrom: window.validFrom.toISOString(),
        validUntil: window.validUntil.toISOString(),
      });
      // Sent as UTC (the old behaviour), the Berlin server reads 11:00 as 11:00 local: an hour early in December.
      const naive = await issue();
      expect(held(naive.vendorRef)?.validUntil).toBe(
        new Date(window.validUntil.getTime() - 3_600_000).toISOString(),
      );
      await expect(issue('Mars/Olympus')).rejects.toMatchObject({ failure: 'INVALID' });
    } finally {
      await berlin.close();
    }
  });
});
