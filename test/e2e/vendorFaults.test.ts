/**
 * Vendor faults on the real runtime: an outage makes issuance retry on durable timers until the vendor
 * recovers; a grant that can never succeed ends `failed` with a reason and a `failed` event.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reservationCredentialId } from '../../src/ids.ts';
import { seedProperty } from '../support/fixtures.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';
import { stayDates } from '../support/stay.ts';

// Run once with resident actors and once passivating after every message: activation must be lossless.
describe.each([{ passivateEachMessage: false }, { passivateEachMessage: true }])(
  'vendor faults (passivate each message: $passivateEachMessage)',
  ({ passivateEachMessage }) => {
    let h: Harness;
    const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
    // A one-night stay ahead of now: fixed dates would have the service expire the credential once passed.
    const stay = stayDates();

    beforeAll(async () => {
      h = await startHarness({
        passivateEachMessage,
        retry: { maxAttempts: 30, baseDelayMs: 100, maxDelayMs: 300 },
      });
    });
    afterAll(async () => {
      await h?.close();
    });

    const confirm = (propertyId: string, reservationId: string, rooms: string[]) =>
      h.service.js.publish(
        `${h.service.topology.platformRoot}.reservation.confirmed.v1`,
        JSON.stringify({
          eventId: randomUUID(),
          tenantId,
          propertyId,
          reservationId,
          guestRef: 'g',
          rooms,
          checkIn: stay.checkIn,
          checkOut: stay.nights(1),
        }),
      );

    it('vendor faults: during an outage the grant retries with backoff and completes after recovery', async () => {
      const { propertyId } = await seedProperty(h.service, tenantId, { '301': '7005' });
      h.ttlock.setFaults({ outage: true });
      const reservationId = `res-${randomUUID().slice(0, 8)}`;
      await confirm(propertyId, reservationId, ['301']);
      const id = reservationCredentialId(tenantId, reservationId, 'pin');
      const retrying = await eventually(async () => {
        const c = await h.service.readModel.credential(tenantId, id);
        const g = c?.grants[0] as { attempts: number; lastError: { code: string } | null } | undefined;
        return g && g.attempts >= 3 ? { c, g } : undefined;
      });
      expect(retrying.c?.status).toBe('issuing');
      expect(retrying.g.lastError?.code).toMatch(/OFFLINE|CIRCUIT_OPEN/);
      // After `openAfterFailures` failures the breaker opens: later attempts fail fast without a call.
      await eventually(async () => {
        const g = (await h.service.readModel.credential(tenantId, id))?.grants[0] as
          { lastError: { code: string } | null } | undefined;
        const gauge = (await h.service.metrics.breaker.get()).values.find(
          (v) => v.labels.vendor === 'ttlock',
        );
        return g?.lastError?.code === 'CIRCUIT_OPEN' && gauge?.value === 1 ? true : undefined;
      });
      h.ttlock.setFaults({ outage: false });
      await eventually(async () =>
        (await h.service.readModel.credential(tenantId, id))?.status === 'active' ? true : undefined,
      );
      expect(h.ttlock.state().credentials.filter((c) => c.lockRef === '7005')).toHaveLength(1);
    });

    it('vendor faults: a grant that can never succeed ends failed with a reason and a failed event', async () => {
      // A lock the vendor does not know: NOT_FOUND is terminal.
      const { propertyId } = await seedProperty(h.service, tenantId, { '401': '999999' });
      const reservationId = `res-${randomUUID().slice(0, 8)}`;
      await confirm(propertyId, reservationId, ['401']);
      const id = reservationCredentialId(tenantId, reservationId, 'pin');
      const failed = await eventually(async () => {
        const c = await h.service.readModel.credential(tenantId, id);
        return c?.status === 'failed' ? c : undefined;
      });
      expect(failed.failure).toMatchObject({ code: 'NOT_FOUND' });
      const subject = `${h.service.topology.eventsRoot}.key_credential.failed.v1`;
      await eventually(async () => {
        const info = await h.service.jsm.streams.info(h.service.topology.eventsStream, {
          subjects_filter: subject,
        });
        return (info.state.subjects?.[subject] ?? 0) >= 1 ? true : undefined;
      });
    });
  },
);
