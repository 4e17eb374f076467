/** Sets up a property with TTLock enabled and one lock device per room, through the actors themselves. */
import { randomUUID } from 'node:crypto';
import type { ActorMailbox } from '../../src/actors/index.ts';

export async function seedProperty(
  service: { mailbox: ActorMailbox },
  tenantId: string,
  rooms: Record<string, string>,
  /** The areas each room's lock is in (staff master keys cover areas). */
  areasOf: (roomId: string) => string[] = () => [],
) {
  const propertyId = randomUUID();
  const at = () => new Date().toISOString();
  const settled = (n: { version: number }, v: number) => n.version >= v;
  const send = async (
    type: 'property' | 'lockDevice',
    id: string,
    event: { type: string; at: string },
    version: number,
  ) => {
    const n = await service.mailbox.sendAndWait(
      { type, id },
      { tenantId, event },
      randomUUID(),
      (x) => settled(x, version),
      10_000,
    );
    if (!n) throw new Error(`${type} ${id} did not reach version ${version}`);
  };
  await send(
    'property',
    propertyId,
    { type: 'property.create', at: at(), name: 'Hotel Test', timezone: 'Europe/Berlin' } as never,
    1,
  );
  await send(
    'property',
    propertyId,
    { type: 'property.setVendorAdapter', at: at(), vendor: 'ttlock', status: 'active', config: {} } as never,
    2,
  );
  const devices: Record<string, string> = {};
  for (const [roomId, ref] of Object.entries(rooms)) {
    const id = randomUUID();
    devices[roomId] = id;
    await send(
      'lockDevice',
      id,
      {
        type: 'lockDevice.register',
        at: at(),
        propertyId,
        roomId,
        vendor: 'ttlock',
        vendorDeviceRef: ref,
        areas: areasOf(roomId),
      } as never,
      1,
    );
  }
  return { propertyId, devices };
}
