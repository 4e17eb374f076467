/**
 * What travels on an actor's inbox subject (`lock.actor.<partition>.<actorType>.<actorId>`), as a TypeBox
 * schema per actor kind: the envelope (`ActorEnvelope`, src/actors/envelope.ts, whose `parseEnvelope` checks
 * it by hand on the hot path) around one of the kind's events (the schemas `eventProblem` checks them with).
 */
import Type, { type TSchema } from 'typebox';

/** The inbox message of an actor kind that takes `events` (its event schemas by type). Pure. */
export function actorInboxMessage(events: Readonly<Record<string, TSchema>>) {
  return Type.Object({
    tenantId: Type.String({ minLength: 1, description: 'The tenant that owns the actor.' }),
    event: Type.Union(Object.values(events), {
      description: 'A machine event: its `type`, the time `at` it happened, and its own fields.',
    }),
    intentId: Type.Optional(
      Type.String({
        description: 'The effect intent this message answers or carries: released by its commit.',
      }),
    ),
    by: Type.Optional(
      Type.String({
        maxLength: 256,
        description: 'Who caused it, for the audit log (`user:<subject>`, `platform`, `vendor:<vendor>`).',
      }),
    ),
    timer: Type.Optional(
      Type.Object(
        { key: Type.String(), dueAt: Type.String({ format: 'date-time' }) },
        { description: 'The durable timer this message delivers: released by its commit.' },
      ),
    ),
  });
}
