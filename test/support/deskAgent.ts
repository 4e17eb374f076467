/** What the desk agent tests share: an agent's config in a directory of its own, and an encode command. */
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AgentConfig } from '../../src/agent/agent.ts';
import { wiegandFormats } from '../../src/io/encoders/wiegand.ts';
import { NATS_URL } from './harness.ts';
import { stayDates } from './stay.ts';

/** An agent with its key and journal in `dir`, a line encoder on `serialPath` (none without one). */
export function deskConfig(o: {
  agentId: string;
  propertyId: string;
  dir: string;
  nats?: AgentConfig['nats'];
  subjectRoot?: string;
  serialPath?: string;
  encoderId?: string;
  heartbeatMs?: number;
  sync?: AgentConfig['sync'];
}): AgentConfig {
  return {
    agentId: o.agentId,
    propertyId: o.propertyId,
    nats: o.nats ?? { servers: NATS_URL, ...(o.subjectRoot ? { subjectRoot: o.subjectRoot } : {}) },
    deviceKeyFile: path.join(o.dir, 'device.pem'),
    journalFile: path.join(o.dir, 'journal.jsonl'),
    encoders: o.serialPath
      ? [{ id: o.encoderId ?? 'desk-encoder', kind: 'line', serial: { path: o.serialPath } }]
      : [],
    heartbeatMs: o.heartbeatMs ?? 60_000,
    ...(o.sync ? { sync: o.sync } : {}),
  };
}

/** A `cmd.encode` body: an H10301 card of `facilityCode` and `cardNumber`. */
export function encodeCommand(
  operationId: string,
  card: { facilityCode: number; cardNumber: number },
  timeoutMs = 5000,
): string {
  // A stay still ahead, as a desk encodes for (a running agent reads it: fixed dates would pass).
  const stay = stayDates();
  return JSON.stringify({
    operationId,
    data: { format: 'H10301', bits: wiegandFormats.H10301.encode(card) },
    rooms: [],
    validFrom: stay.checkIn,
    validUntil: stay.checkOut,
    timeoutMs,
  });
}

/**
 * A property's doors as a desk's: the generic-wiegand adapter active (H10301, `facilityCode`), preferred for
 * cards, and a door registered for each room by the register-lock flow. Fails on any refusal.
 */
export async function deskDoors(
  app: { inject: FastifyInstance['inject'] },
  auth: Record<string, string>,
  propertyId: string,
  o: { facilityCode: number; rooms: string[] },
): Promise<void> {
  const call = async (method: 'PUT' | 'POST', url: string, payload: unknown) => {
    const r = await app.inject({ method, url: `/api/v1${url}`, headers: auth, payload: payload as object });
    if (r.statusCode >= 300) throw new Error(`${method} ${url}: ${r.statusCode} ${r.body}`);
  };
  await call('PUT', `/properties/${propertyId}/vendor-adapters/generic-wiegand`, {
    status: 'active',
    config: { format: 'H10301', facilityCode: o.facilityCode },
  });
  await call('PUT', `/properties/${propertyId}/key-kind-policy`, {
    card: { preferredOrder: ['generic-wiegand'] },
  });
  for (const roomId of o.rooms)
    await call('POST', `/properties/${propertyId}/generic-wiegand/locks`, { roomId });
}
