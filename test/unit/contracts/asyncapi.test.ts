/**
 * The AsyncAPI document held to the code and to its committed baseline (contracts/asyncapi.v1.json): the
 * generated document breaks nothing the baseline promised; each kind of breaking change is caught and a new
 * optional field is not; every published subject, actor kind and desktop message is in it; and each consumed
 * platform subject's payload is the very schema its consumer (src/jobs/platformEvents.ts) validates with.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { describe, expect, it } from 'vitest';
import { actorEventSchemas } from '../../../src/actors/index.ts';
import { ASYNCAPI_BASELINE } from '../../../src/cli/asyncapi.ts';
import {
  breakingChanges,
  buildAsyncApi,
  jsonSchemaOf,
  publishedEventSchemas,
  stableJson,
} from '../../../src/contracts/index.ts';
import { desktopCommandSchemas, desktopEventBodies } from '../../../src/desktop/messageSchemas.ts';
import {
  ReservationConfirmed,
  ReservationDatesChanged,
  ReservationEnded,
  ReservationRoomsChanged,
  StaffShift,
  UserDeactivated,
} from '../../../src/jobs/platformEventSchemas.ts';
import { arbitraryOf, type JsonSchema } from '../../support/schemaArbitrary.ts';

type Json = Record<string, unknown>;
const baseline = JSON.parse(readFileSync(ASYNCAPI_BASELINE, 'utf8')) as Json;
const generated = buildAsyncApi('0.0.0-test');
/** A deep copy of the baseline, changed by `edit`. */
const edited = (edit: (doc: Json) => void): Json => {
  const doc = structuredClone(baseline);
  edit(doc);
  return doc;
};
/** Walks `path` (object keys) from `doc`; throws when a step is missing, so a case cannot test nothing. */
const at = (doc: Json, ...path: string[]): Json =>
  path.reduce<Json>((o, k) => {
    const next = o[k];
    if (!next || typeof next !== 'object') throw new Error(`no ${path.join('.')}`);
    return next as Json;
  }, doc);
const issuedData = (doc: Json) =>
  at(doc, 'components', 'messages', 'key_credential.issued.v1', 'payload', 'properties', 'data');

describe('asyncapi: the baseline', () => {
  it('asyncapi: the generated document breaks nothing the committed baseline promised', () => {
    expect(breakingChanges(baseline, JSON.parse(JSON.stringify(generated)))).toEqual([]);
  });

  it('asyncapi: the baseline is as `lock:cli asyncapi --write` writes it: sorted keys, two-space indent', () => {
    expect(readFileSync(ASYNCAPI_BASELINE, 'utf8')).toBe(stableJson(baseline));
  });
});

describe('asyncapi: breaking changes', () => {
  const changes = (edit: (doc: Json) => void) => breakingChanges(baseline, edited(edit));

  it('asyncapi: a field removed is breaking', () => {
    expect(changes((d) => delete at(issuedData(d), 'properties').validFrom)).toEqual([
      'key_credential.issued.v1 payload/data/validFrom: field removed',
    ]);
  });

  it("asyncapi: a field's type changed is breaking, a new type beside the old one too", () => {
    expect(
      changes((d) => {
        at(d, 'components', 'messages', 'key_credential.issued.v1', 'payload', 'properties').version = {
          type: 'string',
        };
      }),
    ).toEqual(['key_credential.issued.v1 payload/version: type changed from integer to string']);
    expect(
      changes((d) => {
        at(issuedData(d), 'properties').validFrom = { anyOf: [{ type: 'string' }, { type: 'null' }] };
      }),
    ).toEqual(['key_credential.issued.v1 payload/data/validFrom: type changed, now also null']);
  });

  it('asyncapi: an optional field made required is breaking', () => {
    const data = (d: Json) =>
      at(d, 'components', 'messages', 'key_credential.updated.v1', 'payload', 'properties', 'data');
    expect(changes((d) => (data(d).required as string[]).push('newPins'))).toEqual([
      'key_credential.updated.v1 payload/data/newPins: optional field made required',
    ]);
  });

  it('asyncapi: an enum or literal value removed is breaking, a value added is not', () => {
    const status = (d: Json) => at(issuedData(d), 'properties', 'status');
    expect(
      changes((d) => {
        status(d).anyOf = (status(d).anyOf as Json[]).filter((s) => s.const !== 'provisional');
      }),
    ).toEqual(['key_credential.issued.v1 payload/data/status: value "provisional" removed']);
    expect(changes((d) => (status(d).anyOf as Json[]).pop())).toHaveLength(1);
    expect(
      breakingChanges(
        edited((d) => (status(d).anyOf as Json[]).pop()),
        baseline,
      ),
    ).toEqual([]);
  });

  it('asyncapi: a new required field is breaking, a new optional field is not', () => {
    expect(
      changes((d) => {
        at(issuedData(d), 'properties').room = { type: 'string' };
        (issuedData(d).required as string[]).push('room');
      }),
    ).toEqual(['key_credential.issued.v1 payload/data/room: new required field']);
    expect(changes((d) => (at(issuedData(d), 'properties').room = { type: 'string' }))).toEqual([]);
  });

  it('asyncapi: additionalProperties tightened is breaking', () => {
    expect(changes((d) => (issuedData(d).additionalProperties = false))).toEqual([
      'key_credential.issued.v1 payload/data: additionalProperties tightened',
    ]);
  });

  it('asyncapi: a message or channel removed is breaking, a new one is not', () => {
    expect(
      changes((d) => {
        delete at(d, 'components', 'messages')['lock_device.online.v1'];
        delete at(d, 'channels')['melmastoon.lock.lock_device.online.v1'];
      }),
    ).toEqual([
      'channel melmastoon.lock.lock_device.online.v1: removed',
      'lock_device.online.v1: message removed',
    ]);
    const fewer = edited((d) => {
      delete at(d, 'components', 'messages')['lock_device.online.v1'];
      delete at(d, 'channels')['melmastoon.lock.lock_device.online.v1'];
    });
    expect(breakingChanges(fewer, baseline)).toEqual([]);
  });

  it("asyncapi: an actor event's field is found by the event's type in the union", () => {
    const events = (d: Json) =>
      at(d, 'components', 'messages', 'actor.credential', 'payload', 'properties', 'event').anyOf as Json[];
    const revoke = (d: Json) => {
      const e = events(d).find((s) => at(s, 'properties', 'type').const === 'credential.revoke');
      if (!e) throw new Error('no credential.revoke');
      return e;
    };
    expect(changes((d) => delete at(revoke(d), 'properties').reason)).toEqual([
      'actor.credential payload/event/reason: field removed',
    ]);
    expect(changes((d) => events(d).reverse())).toEqual([]);
  });
});

describe('asyncapi: the document covers the code', () => {
  const channel = (subject: string) => generated.channels[subject];
  const payloadOf = (name: string) => generated.components.messages[name]?.payload;

  it('asyncapi: every published event has its channel, published by the service, with its schema', () => {
    for (const [name, schema] of Object.entries(publishedEventSchemas)) {
      const c = channel(`melmastoon.lock.${name}.v1`);
      expect(c?.subscribe, name).toBeDefined();
      expect(c?.publish, name).toBeUndefined();
      expect(payloadOf(`${name}.v1`), name).toEqual(jsonSchemaOf(schema));
    }
  });

  it("asyncapi: every actor kind's inbox message carries each of its events", () => {
    const inbox = channel('lock.actor.{partition}.{actorType}.{actorId}');
    expect(inbox?.publish && inbox.subscribe).toBeTruthy();
    for (const [kind, events] of Object.entries(actorEventSchemas)) {
      const union = (payloadOf(`actor.${kind}`)?.properties as Json).event as { anyOf: unknown[] };
      expect(union.anyOf, kind).toEqual(Object.values(events).map(jsonSchemaOf));
    }
  });

  it('asyncapi: every desktop event and command has its channel', () => {
    for (const name of Object.keys(desktopEventBodies))
      expect(channel(`lock.desktop.{propertyId}.{agentId}.evt.${name}`)?.publish, name).toBeDefined();
    for (const [name, schema] of Object.entries(desktopCommandSchemas)) {
      expect(channel(`lock.desktop.{propertyId}.{agentId}.cmd.${name}`)?.subscribe, name).toBeDefined();
      expect(payloadOf(`desktop.cmd.${name}`)).toEqual(jsonSchemaOf(schema));
    }
  });

  it('asyncapi: every channel parameter is named in its channel, every operation finds its message', () => {
    for (const [subject, c] of Object.entries(generated.channels)) {
      for (const p of Object.keys(c.parameters ?? {})) expect(subject).toContain(`{${p}}`);
      for (const op of [c.publish, c.subscribe].filter((o) => o !== undefined)) {
        const refs = 'oneOf' in op.message ? op.message.oneOf : [op.message];
        for (const r of refs)
          expect(
            generated.components.messages[r.$ref.replace('#/components/messages/', '')],
            r.$ref,
          ).toBeDefined();
      }
    }
  });
});

describe('asyncapi: consumed platform events', () => {
  // The schema src/jobs/platformEvents.ts checks each subject with (its `interpret` switch), written out here.
  const consumer: Record<string, TSchema> = {
    'reservation.confirmed.v1': ReservationConfirmed,
    'reservation.imported.v1': ReservationConfirmed,
    'reservation.dates_changed.v1': ReservationDatesChanged,
    'reservation.checked_out.v1': ReservationEnded,
    'reservation.cancelled.v1': ReservationEnded,
    'reservation.rooms_changed.v1': ReservationRoomsChanged,
    'staff.shift.started.v1': StaffShift,
    'staff.shift.ended.v1': StaffShift,
    'iam.user.deactivated.v1': UserDeactivated,
  };
  const consumed = Object.entries(generated.channels).filter(
    ([s]) => !s.startsWith('melmastoon.lock.') && s.startsWith('melmastoon.'),
  );

  it('asyncapi: the platform subjects are exactly those the consumer takes, each received by the service', () => {
    expect(consumed.map(([s]) => s.slice('melmastoon.'.length)).sort()).toEqual(Object.keys(consumer).sort());
    for (const [s, c] of consumed) expect(c.publish && !c.subscribe, s).toBe(true);
  });

  it("asyncapi: each platform subject's payload is the consumer's schema", () => {
    for (const [name, schema] of Object.entries(consumer))
      expect(generated.components.messages[name]?.payload, name).toEqual(jsonSchemaOf(schema));
  });

  it("asyncapi: what the document allows, the consumer's checker accepts", () => {
    for (const [name, schema] of Object.entries(consumer)) {
      const check = Compile(schema);
      const documented = generated.components.messages[name]?.payload as JsonSchema;
      fc.assert(
        fc.property(arbitraryOf(documented), (event) => check.Check(event)),
        { numRuns: 50 },
      );
    }
  });
});
