/**
 * A harness for the `describe` block this is called in: started before its tests with one tenant's property
 * (room 101 on the TTLock simulator's lock 7001), closed after them. Its fields are set once `beforeAll` ran.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import type { ServiceSettings } from '../../src/service.ts';
import { seedProperty } from './fixtures.ts';
import { type Harness, startHarness } from './harness.ts';

export interface PropertyWorld {
  h: Harness;
  tenantId: string;
  propertyId: string;
}

export function harnessWithProperty(over: Partial<ServiceSettings> = {}): PropertyWorld {
  const world = { tenantId: `tenant-${randomUUID().slice(0, 8)}` } as PropertyWorld;
  beforeAll(async () => {
    world.h = await startHarness(over);
    ({ propertyId: world.propertyId } = await seedProperty(world.h.service, world.tenantId, {
      '101': '7001',
    }));
  });
  afterAll(async () => {
    await world.h?.close();
  });
  return world;
}
