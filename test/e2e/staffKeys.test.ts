/**
 * Staff keys end to end on real NATS, PostgreSQL and the TTLock simulator, through the platform's events:
 * a shift's start puts a master key on every lock of its areas, its end takes it off every lock; a
 * deactivated account loses every credential it holds (master keys and REST-made ones), ahead of ordinary
 * work, and gets no new one; a shift whose areas have no lock is refused with the reason.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shiftCredentialId } from '../../src/ids.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

const HOUR = 3_600_000;

describe('staff keys', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  let propertyId = '';
  // Rooms 101–104 on floor 1, 105–106 on floor 2; locks 7001–7006.
  const rooms = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [String(101 + i), String(7001 + i)]));
  const floorOf = (room: string) => (Number(room) <= 104 ? ['floor-1'] : ['floor-2']);

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
    propertyId = (await seedProperty(h.service, tenantId, rooms, floorOf)).propertyId;
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  const publish = (name: string, body: Record<string, unknown>) =>
    h.service.js.publish(`${h.service.topology.platformRoot}.${name}`, JSON.stringify(body), {
      msgID: String(body.eventId),
    });
  const shift = (staffId: string, shiftId: string, areas: string[]) => ({
    eventId: randomUUID(),
    tenantId,
    propertyId,
    staffId,
    shiftId,
    areas,
    startsAt: new Date(Date.now() - HOUR).toISOString(),
    endsAt: new Date(Date.now() + 8 * HOUR).toISOString(),
  });
  const heldOn = (locks: string[]) => h.ttlock.state().credentials.filter((c) => locks.includes(c.lockRef));
  const status = async (id: string) => (await h.service.readModel.credential(tenantId, id))?.status;
  const eventsOn = async (subject: string) => {
    const info = await h.service.jsm.streams.info(h.service.topology.eventsStream, {
      subjects_filter: subject,
    });
    return info.state.subjects?.[subject] ?? 0;
  };
  const masterKey = (verb: string) => `${h.service.topology.eventsRoot}.master_key.${verb}.v1`;

  it("staff: a shift's start puts a master key on every lock of its areas; its end takes it off every one", async () => {
    const started = shift('u1', `sh-${randomUUID().slice(0, 8)}`, ['floor-1']);
    await publish('staff.shift.started.v1', started);
    const id = shiftCredentialId(tenantId, started.shiftId, 'pin');
    await eventually(async () => ((await status(id)) === 'active' ? true : undefined));
    const floor1 = ['7001', '7002', '7003', '7004'];
    const held = heldOn(floor1);
    expect(held.map((c) => c.lockRef).sort()).toEqual(floor1);
    for (const c of held) expect([c.validFrom, c.validUntil]).toEqual([started.startsAt, started.endsAt]);
    // Nothing on the other floor.
    expect(heldOn(['7005', '7006'])).toEqual([]);
    await eventually(async () => ((await eventsOn(masterKey('issued'))) === 1 ? true : undefined));

    await publish('staff.shift.ended.v1', { ...started, eventId: randomUUID() });
    await eventually(async () => ((await status(id)) === 'revoked' ? true : undefined));
    expect(heldOn(floor1)).toEqual([]);
    await eventually(async () => ((await eventsOn(masterKey('revoked'))) === 1 ? true : undefined));
  });

  it('staff: deactivation revokes every credential of the user (master key and REST-made) and refuses new ones', async () => {
    const auth = { authorization: `Bearer ${await gw.token(tenantId)}` };
    const issueForStaff = (key: string) =>
      gw.app.inject({
        method: 'POST',
        url: '/api/v1/key-credentials',
        headers: { ...auth, 'idempotency-key': key },
        payload: {
          propertyId,
          holder: { kind: 'staff', ref: 'u2' },
          kind: 'pin',
          rooms: ['106'],
          validFrom: new Date(Date.now() - HOUR).toISOString(),
          validUntil: new Date(Date.now() + 24 * HOUR).toISOString(),
        },
      });
    const rest = await issueForStaff(randomUUID());
    expect(rest.statusCode).toBe(201);
    const restId = rest.json().id as string;
    const started = shift('u2', `sh-${randomUUID().slice(0, 8)}`, ['floor-1', 'floor-2']);
    await publish('staff.shift.started.v1', started);
    const keyId = shiftCredentialId(tenantId, started.shiftId, 'pin');
    await eventually(async () => ((await status(keyId)) === 'active' ? true : undefined));
    const all = Object.values(rooms);
    expect(heldOn(all)).toHaveLength(7);

    await publish('iam.user.deactivated.v1', { eventId: randomUUID(), tenantId, userId: 'u2' });
    await eventually(async () => (heldOn(all).length === 0 ? true : undefined));
    // The vendor holds nothing; the credentials say so once they have the last answers.
    await eventually(async () => ((await status(keyId)) === 'revoked' ? true : undefined));
    await eventually(async () => ((await status(restId)) === 'revoked' ? true : undefined));

    const refused = await issueForStaff(randomUUID());
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'LOCK.HOLDER_DEACTIVATED' });
    // A shift after the deactivation issues nothing.
    const later = shift('u2', `sh-${randomUUID().slice(0, 8)}`, ['floor-1']);
    await publish('staff.shift.started.v1', later);
    await eventually(async () => {
      const v = (await h.service.metrics.platformEvents.get()).values.find(
        (x) => x.labels.event === 'staff.shift.started.v1' && x.labels.outcome === 'forwarded',
      );
      return (v?.value ?? 0) >= 3 ? true : undefined;
    });
    expect(await status(shiftCredentialId(tenantId, later.shiftId, 'pin'))).toBeUndefined();
    expect(heldOn(all)).toEqual([]);
  });

  it('staff: a shift whose areas have no lock is refused, with nothing issued', async () => {
    const nowhere = shift('u3', `sh-${randomUUID().slice(0, 8)}`, ['no-such-area']);
    await publish('staff.shift.started.v1', nowhere);
    await eventually(async () => {
      const v = (await h.service.metrics.platformEvents.get()).values.find(
        (x) => x.labels.event === 'staff.shift.started.v1' && x.labels.outcome === 'rejected',
      );
      return (v?.value ?? 0) >= 1 ? true : undefined;
    });
    expect(await status(shiftCredentialId(tenantId, nowhere.shiftId, 'pin'))).toBeUndefined();
  });
});
