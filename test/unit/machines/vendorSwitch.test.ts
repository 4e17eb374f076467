/**
 * The vendor switch as a decider: each phase tells the property, the locks and the credentials what the
 * migration plan says, and a phase advances only without blockers (rooms left, credentials on the old vendor).
 */
import { describe, expect, it } from 'vitest';
import { type MessageIntent, propertyMachine, vendorSwitchMachine } from '../../../src/machines/index.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(vendorSwitchMachine, { id: 'sw1', tenantId: 't1' });
const at = '2026-01-01T08:00:00.000Z';
const plan = (pilotRoom: string | null = null) => ({
  type: 'vendorSwitch.plan',
  at,
  propertyId: 'p1',
  from: 'ttlock',
  to: 'salto-ks',
  kinds: ['pin'],
  pilotRoom,
  rooms: [
    { roomId: '101', oldDeviceId: 'old-101' },
    { roomId: '102', oldDeviceId: 'old-102' },
  ],
  previousPolicy: { pin: { preferredOrder: ['ttlock'] } },
});
const advance = (legacyLive = 0) => ({ type: 'vendorSwitch.advance', at, legacyLive });
const cut = (roomId: string, credentialIds: string[] = []) => ({
  type: 'vendorSwitch.roomCutover',
  at,
  roomId,
  newDevice: { id: `new-${roomId}`, vendorDeviceRef: `ks-${roomId}`, areas: [] },
  credentialIds,
});
const retiring = () => ({
  type: 'vendorSwitch.retiring',
  at,
  revokedAtVendor: [],
  destroyed: ['appSecret', 'password'],
  rotateAtVendor: ['appSecret', 'password'],
  webhookRemoved: true,
});
const retired = () => ({ type: 'vendorSwitch.retired', at });
const told = (intents: { type: string; params: unknown }[]) =>
  intents
    .filter((i) => i.type === 'sendMessage')
    .map((i) => {
      const m = i.params as MessageIntent;
      const e = m.event as { type: string; status?: string; vendor?: string; policy?: unknown };
      return [m.to.type, m.to.id, e.type, e.vendor ?? e.status ?? e.policy ?? null];
    });
const published = (intents: { type: string; params: unknown }[]) =>
  intents.filter((i) => i.type === 'publishEvent').map((i) => (i.params as { verb: string }).verb);

describe('vendor switch', () => {
  it('vendor switch: dual vendor enables the new adapter and prefers it, and says the switch started', () => {
    const o = spec.given(plan()).when(advance()).then({ state: 'dualVendor' });
    expect(told(o.intents)).toEqual([
      ['property', 'p1', 'property.setAdapterStatus', 'salto-ks'],
      ['property', 'p1', 'property.setKeyKindPolicy', { pin: { preferredOrder: ['salto-ks', 'ttlock'] } }],
    ]);
    expect(published(o.intents)).toEqual(['started']);
    // A pilot's new adapter is provisional.
    const pilot = spec.given(plan('101')).when(advance()).outcome;
    expect((told(pilot.intents)[0] as unknown[])[2]).toBe('property.setAdapterStatus');
    expect(((pilot.intents[0]?.params as MessageIntent).event as unknown as { status: string }).status).toBe(
      'provisional',
    );
  });

  it('vendor switch: a room cut over registers its new lock, decommissions the old and moves each live credential there', () => {
    const o = spec
      .given(plan(), advance(), advance())
      .when(cut('101', ['c1', 'c2']))
      .then({ state: 'cutover' });
    expect(told(o.intents)).toEqual([
      ['lockDevice', 'new-101', 'lockDevice.register', 'salto-ks'],
      ['lockDevice', 'old-101', 'lockDevice.decommission', null],
      ['credential', 'c1', 'credential.moveRoom', null],
      ['credential', 'c2', 'credential.moveRoom', null],
    ]);
    expect(published(o.intents)).toEqual(['room_cutover']);
    expect(o.context.moved).toBe(2);
    // Once per room; a room outside the switch changes nothing.
    expect(spec.given(plan(), advance(), advance(), cut('101')).when(cut('101')).outcome.intents).toEqual([]);
    expect(spec.given(plan(), advance(), advance()).when(cut('999')).outcome.intents).toEqual([]);
  });

  it('vendor switch: before the cutover only the pilot room may be cut over', () => {
    expect(spec.given(plan('101'), advance()).when(cut('102')).outcome.intents).toEqual([]);
    expect(told(spec.given(plan('101'), advance()).when(cut('101')).outcome.intents)).toHaveLength(2);
  });

  it('vendor switch: draining needs every room cut over; completing needs no live credential on the old vendor', () => {
    spec.given(plan(), advance(), advance(), cut('101')).when(advance()).then({ state: 'cutover' });
    const draining = spec
      .given(plan(), advance(), advance(), cut('101'), cut('102'))
      .when(advance())
      .then({ state: 'draining' });
    expect(told(draining.intents)).toEqual([['property', 'p1', 'property.setAdapterStatus', 'ttlock']]);
    const drained = [plan(), advance(), advance(), cut('101'), cut('102'), advance()];
    spec
      .given(...drained)
      .when(advance(3))
      .then({ state: 'draining' });
    // No live credential left: decommissioning (the old vendor's secrets are retired), then completed.
    const decommissioning = spec
      .given(...drained)
      .when(advance(0))
      .then({ state: 'decommissioning' });
    expect(decommissioning.intents).toEqual([]);
    // Nothing completes before what is retired is recorded; the first record holds.
    spec
      .given(...drained, advance(0))
      .when(retired())
      .then({ state: 'decommissioning' });
    const second = { ...retiring(), destroyed: [], webhookRemoved: false };
    const done = spec
      .given(...drained, advance(0), retiring(), second)
      .when(retired())
      .then({ state: 'completed' });
    expect(told(done.intents)).toEqual([['property', 'p1', 'property.releaseSwitch', null]]);
    expect(published(done.intents)).toEqual(['completed']);
    expect(done.context.secrets).toEqual({
      revokedAtVendor: [],
      destroyed: ['appSecret', 'password'],
      rotateAtVendor: ['appSecret', 'password'],
      webhookRemoved: true,
    });
    // Reports of retired secrets anywhere else change nothing.
    expect(spec.given(...drained).when(retiring()).outcome.intents).toEqual([]);
    expect(spec.given(...drained).when(retired()).outcome.intents).toEqual([]);
  });

  it('vendor switch: once decommissioning, neither pause nor abort applies (the old secrets are going)', () => {
    const decommissioning = [plan(), advance(), advance(), cut('101'), cut('102'), advance(), advance(0)];
    spec
      .given(...decommissioning)
      .when({ type: 'vendorSwitch.abort', at, reason: 'late' })
      .then({ state: 'decommissioning' });
    spec
      .given(...decommissioning)
      .when({ type: 'vendorSwitch.pause', at })
      .then({ state: 'decommissioning' });
  });

  it('vendor switch: abort before completion restores the policy; pause and resume return to the phase', () => {
    const aborted = spec
      .given(plan(), advance(), advance())
      .when({ type: 'vendorSwitch.abort', at, reason: 'no' });
    expect(aborted.outcome.value).toBe('aborted');
    expect(told(aborted.outcome.intents)).toEqual([
      ['property', 'p1', 'property.setKeyKindPolicy', { pin: { preferredOrder: ['ttlock'] } }],
      ['property', 'p1', 'property.setAdapterStatus', 'ttlock'],
      ['property', 'p1', 'property.releaseSwitch', null],
    ]);
    const pause = { type: 'vendorSwitch.pause', at };
    spec.given(plan(), advance(), advance(), pause).when(advance()).then({ state: 'paused' });
    spec
      .given(plan(), advance(), advance(), pause)
      .when({ type: 'vendorSwitch.resume', at })
      .then({ state: 'cutover' });
    const completed = [
      plan(),
      advance(),
      advance(),
      cut('101'),
      cut('102'),
      advance(),
      advance(),
      retiring(),
      retired(),
    ];
    spec
      .given(...completed)
      .when({ type: 'vendorSwitch.abort', at, reason: 'late' })
      .then({ state: 'completed' });
  });

  it('vendor switch: its messages to the property are numbered, so one that arrives late changes nothing there', () => {
    const o = spec.given(plan()).when(advance()).outcome;
    const orders = o.intents
      .filter((i) => i.type === 'sendMessage')
      .map((i) => ((i.params as MessageIntent).event as { switchOrder?: unknown }).switchOrder);
    expect(orders).toEqual([
      { switchId: 'sw1', seq: 1 },
      { switchId: 'sw1', seq: 2 },
    ]);
    const property = decider(propertyMachine, { id: 'p1', tenantId: 't1' });
    const created = [
      { type: 'property.create', at, name: 'H', timezone: 'UTC' },
      { type: 'property.setVendorAdapter', at, vendor: 'ttlock', status: 'active', config: {} },
    ];
    const disable = {
      type: 'property.setAdapterStatus',
      at,
      vendor: 'ttlock',
      status: 'disabled',
      switchOrder: { switchId: 'sw1', seq: 3 },
    };
    const restore = { ...disable, status: 'active', switchOrder: { switchId: 'sw1', seq: 4 } };
    // The drain's message redelivered after the abort's: the old vendor stays enabled.
    const late = property.given(...created, disable, restore).when(disable).outcome;
    expect((late.context.vendorAdapters as Record<string, { status: string }>).ttlock?.status).toBe('active');
  });

  it('property: one vendor switch at a time; only the running one lets it go', () => {
    const property = decider(propertyMachine, { id: 'p1', tenantId: 't1' });
    const create = { type: 'property.create', at, name: 'H', timezone: 'UTC' };
    const claim = (switchId: string) => ({ type: 'property.claimSwitch', at, switchId });
    const release = (switchId: string) => ({ type: 'property.releaseSwitch', at, switchId });
    expect(property.given(create, claim('a')).when(claim('b')).outcome.context.runningSwitch).toEqual({
      id: 'a',
      at,
    });
    expect(property.given(create, claim('a')).when(release('b')).outcome.context.runningSwitch).toEqual({
      id: 'a',
      at,
    });
    expect(
      property.given(create, claim('a'), release('a')).when(claim('b')).outcome.context.runningSwitch,
    ).toEqual({
      id: 'b',
      at,
    });
  });
});
