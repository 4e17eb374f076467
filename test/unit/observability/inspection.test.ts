import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inspectionOf, redact, sourceOf } from '../../../src/observability/inspection.ts';

describe('inspection events', () => {
  it('inspection: the source of an event is the actor whose intent carried it; a caller is none', () => {
    expect(sourceOf('reservation:t1:res-9:4:0')).toBe('reservation/t1:res-9');
    expect(sourceOf('credential:c1:2:1')).toBe('credential/c1');
    expect(sourceOf('cmd:credential:c1:key-1')).toBeUndefined();
    expect(sourceOf(undefined)).toBeUndefined();
    expect(sourceOf('odd')).toBeUndefined();
  });

  it('inspection: no secret-bearing field survives redaction, at any depth', () => {
    const secretKeys = [
      'secret',
      'spareSecrets',
      'vendorSecret',
      'pin',
      'cardNumber',
      'recipient',
      'guestName',
    ];
    const leaf = fc.oneof(fc.string(), fc.integer(), fc.boolean());
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(fc.oneof(fc.constantFrom(...secretKeys), fc.string({ maxLength: 6 })), tie('node'), {
          maxKeys: 4,
        }),
      ),
    })).node;
    fc.assert(
      fc.property(tree, (value) => {
        const walk = (v: unknown): void => {
          if (Array.isArray(v)) v.forEach(walk);
          else if (v && typeof v === 'object')
            for (const [k, x] of Object.entries(v)) {
              if (secretKeys.includes(k) && x !== null && x !== undefined) expect(x).toBe('[redacted]');
              else walk(x);
            }
        };
        walk(redact(value));
      }),
    );
  });

  it('inspection: a first commit announces the actor as created, then its event and snapshot, redacted', () => {
    const events = inspectionOf(
      {
        tenantId: 't1',
        actorType: 'credential',
        actorId: 'c1',
        first: true,
        version: 1,
        event: { type: 'credential.issue', at: '2026-01-01T00:00:00.000Z', secret: 'v1.sealed' },
        snapshot: { value: 'issuing', status: 'active', context: { secret: 'v1.sealed', rooms: ['101'] } },
        before: { value: 'new', context: { secret: null } },
      },
      new Date('2026-01-01T00:00:01.000Z'),
    );
    expect(events.map((e) => e.type)).toEqual(['@xstate.actor', '@xstate.event', '@xstate.snapshot']);
    expect(events[0]).toMatchObject({ sessionId: 'credential/c1', snapshot: { value: 'new' } });
    expect(events[1]).toMatchObject({ event: { type: 'credential.issue', secret: '[redacted]' } });
    expect(events[2]).toMatchObject({ snapshot: { value: 'issuing', context: { secret: '[redacted]' } } });
    expect(JSON.stringify(events)).not.toContain('v1.sealed');
  });
});
