import { describe, expect, it } from 'vitest';
import { lockDeviceMachine } from '../../../src/machines/lockDevice.ts';
import { decider } from '../../support/decider.ts';

const spec = decider(lockDeviceMachine, { id: 'd1', tenantId: 't1' });
const register = {
  type: 'lockDevice.register',
  at: '2026-01-01T10:00:00.000Z',
  propertyId: 'p1',
  roomId: '101',
  vendor: 'seam',
  vendorDeviceRef: 'august_device_1',
  areas: [],
};
const report = (r: { battery?: number; online?: boolean; accessAt?: string }) => ({
  type: 'lockDevice.vendorReport',
  at: '2026-01-02T10:00:00.000Z',
  ...r,
});

describe('lock device: vendor reports', () => {
  it('lock device: battery crossing below 20% is published once', () => {
    const low = spec
      .given(register, report({ battery: 60 }))
      .when(report({ battery: 15 }))
      .then({ state: 'active' });
    expect(low.intents).toEqual([
      { type: 'publishEvent', params: { verb: 'battery_low', data: { battery: 15 } } },
    ]);
    expect(low.context.battery).toBe(15);
    const lower = spec
      .given(register, report({ battery: 15 }))
      .when(report({ battery: 10 }))
      .then({ state: 'active' });
    expect(lower.intents).toEqual([]);
    spec
      .given(register, report({ battery: 15 }))
      .when(report({ battery: 15 }))
      .thenNothingHappened();
  });

  it('lock device: going offline and back online is published', () => {
    const off = spec
      .given(register)
      .when(report({ online: false }))
      .then({ state: 'active' });
    expect(off.intents).toEqual([{ type: 'publishEvent', params: { verb: 'offline' } }]);
    const on = spec
      .given(register, report({ online: false }))
      .when(report({ online: true }))
      .then({ state: 'active' });
    expect(on.intents).toEqual([{ type: 'publishEvent', params: { verb: 'online' } }]);
    spec
      .given(register, report({ online: true }))
      .when(report({ online: true }))
      .thenNothingHappened();
  });

  it('lock device: the last opening only moves forward, and publishes nothing', () => {
    const opened = spec
      .given(register, report({ accessAt: '2026-01-02T09:00:00.000Z' }))
      .when(report({ accessAt: '2026-01-02T09:30:00.000Z' }))
      .then({ state: 'active', intents: [] });
    expect(opened.context.lastAccessAt).toBe('2026-01-02T09:30:00.000Z');
    spec
      .given(register, report({ accessAt: '2026-01-02T09:30:00.000Z' }))
      .when(report({ accessAt: '2026-01-02T09:00:00.000Z' }))
      .thenNothingHappened();
  });
});
