/**
 * Salto Space beyond the happy path, against a simulator that models it:
 * - an online door's state comes from `OnlineDoor.GetOnlineStatusList` (`CommStatus`), not from a door
 *   field; an offline (data-on-card) door has none, so its state is unknown;
 * - the encoder waits for a card at the desk: a retry while it waits is refused BUSY (no second card), a
 *   card laid on it late (after the encoder gave up) encodes nothing, and a re-run after a success finds the
 *   key already there;
 * - what "revoked" means for a data-on-card key: the key is cancelled through the blacklist, which online
 *   doors apply at once and offline doors once it reaches them (keys updated at SVN points); the stay's end
 *   written on the card is the bound either way. Keys are made cancellable explicitly: in Space's "more than
 *   64k users" mode they are not by default, and a revoke would leave a card that opens until it lapses.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IssueRequest, LockAdapter } from '../../src/io/vendors/port.ts';
import {
  createSaltoSpaceAdapter,
  SALTO_SPACE_SIM_DEFAULTS,
  type SaltoSpaceSimulator,
  startSaltoSpaceSimulator,
} from '../../src/io/vendors/saltoSpace/index.ts';
import { eventually } from '../support/harness.ts';

const HOUR = 3_600_000;

describe('salto-space encoder, door status and blacklist', () => {
  let sim: SaltoSpaceSimulator;
  let adapter: LockAdapter;

  beforeAll(async () => {
    sim = await startSaltoSpaceSimulator({
      doorCount: 4,
      cards: 'desk',
      encoderWaitMs: 3000,
      moreThan64kUsers: true,
    });
    adapter = createSaltoSpaceAdapter({
      config: { baseUrl: sim.url, ...SALTO_SPACE_SIM_DEFAULTS },
      timeoutMs: 2000,
    });
  });
  afterAll(() => sim?.close());

  const stay = (lockRef: string, operationId = randomUUID()): IssueRequest => {
    const now = Date.now();
    return {
      operationId,
      lockRef,
      kind: 'card',
      pin: null,
      lookupFirst: false,
      // Whole seconds: SHIP times carry no fractions.
      validFrom: new Date(Math.floor((now - HOUR) / 1000) * 1000),
      validUntil: new Date(Math.floor((now + 24 * HOUR) / 1000) * 1000),
    };
  };
  /** Issues with the card laid on the encoder once the encode waits for it. */
  async function issueAtDesk(req: IssueRequest) {
    const issued = adapter.issueCredential(req);
    await eventually(async () => (sim.encoderWaiting() ? true : undefined));
    expect(sim.presentCard()).toBe(true);
    return issued;
  }

  it("salto-space: online doors report their link (CommStatus); an offline door's state is unknown", async () => {
    // R401, R403 are online doors; R402, R404 data-on-card ones.
    sim.setDoorComm('R403', false);
    const locks = await adapter.listLocks();
    expect(locks.map((l) => [l.ref, l.online])).toEqual([
      ['R401', true],
      ['R402', null],
      ['R403', false],
      ['R404', null],
    ]);
    expect((await adapter.getLock('R401')).online).toBe(true);
    sim.setDoorComm('R403', true);
    expect((await adapter.getLock('R403')).online).toBe(true);
  });

  it('salto-space: a retry while the encoder waits for the card is BUSY, and a re-run after success encodes no second card', async () => {
    const req = stay('R402');
    const first = adapter.issueCredential(req);
    await eventually(async () => (sim.encoderWaiting() ? true : undefined));
    const before = sim.cardsEncoded();
    // The runner's retry (its claim lapsed, say) while the first encode still waits at the desk.
    await expect(adapter.issueCredential({ ...req, lookupFirst: true })).rejects.toMatchObject({
      failure: 'BUSY',
    });
    expect(sim.presentCard()).toBe(true);
    const r = await first;
    // A re-run whose answer was lost finds the key on the user and encodes nothing.
    await expect(adapter.issueCredential({ ...req, lookupFirst: true })).resolves.toEqual(r);
    expect(sim.cardsEncoded()).toBe(before + 1);
  });

  it('salto-space: a card laid on the encoder after it gave up is not encoded; the retry encodes one', async () => {
    const req = stay('R404');
    const before = sim.cardsEncoded();
    await expect(adapter.issueCredential(req)).rejects.toMatchObject({ failure: 'ENCODER_TIMEOUT' });
    expect(sim.presentCard()).toBe(false);
    expect(sim.cardsEncoded()).toBe(before);
    await issueAtDesk({ ...req, lookupFirst: true });
    expect(sim.cardsEncoded()).toBe(before + 1);
  });

  it('salto-space: a revoked card is blacklisted: online doors refuse it at once, offline doors once the blacklist reaches them, and none after the stay', async () => {
    const online = await issueAtDesk(stay('R401'));
    const offline = await issueAtDesk(stay('R402'));
    const card = (lockRef: string, ref: string) => {
      const c = sim.state().credentials.find((x) => x.lockRef === lockRef && x.ref === ref);
      if (!c) throw new Error(`no card of ${ref} at ${lockRef}`);
      return c;
    };
    const onlineCard = card('R401', online.vendorRef);
    const offlineCard = card('R402', offline.vendorRef);
    const now = new Date();
    expect([sim.opens('R401', onlineCard.romCode, now), sim.opens('R402', offlineCard.romCode, now)]).toEqual(
      [true, true],
    );
    for (const [lockRef, r] of [
      ['R401', online],
      ['R402', offline],
    ] as const)
      await adapter.revokeCredential({ issueOperationId: '', lockRef, kind: 'card', vendorRef: r.vendorRef });
    // Cancelled through the blacklist (the adapter made the keys cancellable: this mode's default is not).
    expect(sim.blacklist()).toEqual(expect.arrayContaining([onlineCard.romCode, offlineCard.romCode]));
    expect(sim.opens('R401', onlineCard.romCode, now)).toBe(false);
    // An offline door learns of it only when the blacklist is carried to it.
    expect(sim.opens('R402', offlineCard.romCode, now)).toBe(true);
    sim.spreadBlacklist('R402');
    expect(sim.opens('R402', offlineCard.romCode, now)).toBe(false);
    // Whatever a door knows, a card lapses with the stay written on it.
    sim.spreadBlacklist('R402');
    const unrevoked = await issueAtDesk(stay('R402'));
    const live = card('R402', unrevoked.vendorRef);
    expect(sim.opens('R402', live.romCode, now)).toBe(true);
    expect(sim.opens('R402', live.romCode, new Date(Date.parse(live.validUntil) + 1000))).toBe(false);
  });
});
