import { describe, expect, it } from 'vitest';
import { credentialMachine } from '../../../src/machines/credential.ts';
import { issueEvent } from '../../support/credentialEvents.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(credentialMachine, { id: 'c1', tenantId: 't1' });
// A desk's provisional card, reconciled: written already, so its grants start issued.
const adopt = (locks = [1, 2]) => issueEvent(locks, { kind: 'card', adopted: { vendorRef: 'card-04A1' } });

describe('credential: adopting a card written offline', () => {
  it('credential: an adopted issue is active at once, publishing requested then issued, with no vendor call', () => {
    const o = spec.given().when(adopt()).then({ state: 'active' });
    expect(o.intents.map((i) => i.type)).toEqual(['publishEvent', 'scheduleTimer', 'publishEvent']);
    expect(o.intents.some((i) => i.type === 'callVendor')).toBe(false);
    expect(o.intents[2]?.params).toMatchObject({
      verb: 'issued',
      data: {
        grants: [
          { lockDeviceId: 'd1', vendorRef: 'card-04A1' },
          { lockDeviceId: 'd2', vendorRef: 'card-04A1' },
        ],
      },
    });
    // Expiry is armed like any credential's: the card's stay ends in the record too.
    expect(o.intents[1]?.params).toMatchObject({ key: 'expire' });
  });

  it('credential: a repeated adopt changes nothing', () => {
    spec.given(adopt()).when(adopt()).thenNothingHappened();
  });

  it('credential: an adopted card revoked asks the vendor to revoke what it holds (its reference)', () => {
    const o = spec
      .given(adopt())
      .when({ type: 'credential.revoke', at: '2026-01-02T10:00:00.000Z', reason: 'lost' })
      .then({ state: 'revoking' });
    const calls = o.intents.filter((i) => i.type === 'callVendor').map((i) => i.params);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ intent: 'revokeGrant', vendorRef: 'card-04A1' });
  });
});
