/**
 * The service's NATS contract as an AsyncAPI 2.6.0 document, generated from the TypeBox schemas the code
 * validates with: consumed platform events (src/jobs/platformEventSchemas.ts), published lock events
 * (./publishedEvents.ts), actor inboxes (src/actors/eventSchemas.ts) and desktop agent messages
 * (src/desktop/messageSchemas.ts). Subjects are production's (the topology with no prefix).
 *
 * Operations take the service's point of view, as AsyncAPI 2.x defines them: `publish` lists what others
 * publish on a channel — the service receives it; `subscribe` lists what the service publishes — others
 * receive it.
 */
import type { TSchema } from 'typebox';
import Type from 'typebox';
import { actorEventSchemas } from '../actors/index.ts';
import { desktopCommandSchemas, desktopEventBodies, signedAgentMessage } from '../desktop/messageSchemas.ts';
import { topology } from '../io/nats/index.ts';
import { platformEventSchemas } from '../jobs/platformEventSchemas.ts';
import { actorInboxMessage } from './actorInbox.ts';
import { PUBLISHED_VERSION, publishedEventSchemas } from './publishedEvents.ts';

/** A JSON Schema, as plain JSON (TypeBox's own non-enumerable keys dropped). */
export type JsonSchema = Record<string, unknown>;

export interface AsyncApiMessage {
  name: string;
  title: string;
  summary: string;
  contentType: 'application/json';
  headers: JsonSchema;
  payload: JsonSchema;
}

export interface AsyncApiOperation {
  operationId: string;
  summary: string;
  message: { $ref: string } | { oneOf: { $ref: string }[] };
}

export interface AsyncApiChannel {
  description: string;
  parameters?: Record<string, { description: string; schema: JsonSchema }>;
  /** Others publish, the service receives. */
  publish?: AsyncApiOperation;
  /** The service publishes, others receive. */
  subscribe?: AsyncApiOperation;
  /** The JetStream stream that keeps the channel's messages; absent for core NATS. */
  'x-stream'?: string;
}

export interface AsyncApiDocument {
  asyncapi: '2.6.0';
  id: string;
  info: { title: string; version: string; description: string };
  defaultContentType: 'application/json';
  servers: Record<string, { url: string; protocol: 'nats'; protocolVersion: string; description: string }>;
  channels: Record<string, AsyncApiChannel>;
  components: { messages: Record<string, AsyncApiMessage> };
}

/** A TypeBox schema as plain JSON Schema. Pure. */
export const jsonSchemaOf = (schema: TSchema): JsonSchema => JSON.parse(JSON.stringify(schema)) as JsonSchema;

const TRACEPARENT = Type.String({
  pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$',
  description: 'W3C Trace Context, optional: the span that sent the message, which its receiver joins.',
});
const jetStreamHeaders = (msgId: string) =>
  jsonSchemaOf(
    Type.Object({
      'Nats-Msg-Id': Type.String({ description: `JetStream's de-duplication id: ${msgId}.` }),
      traceparent: Type.Optional(TRACEPARENT),
    }),
  );
const coreHeaders = jsonSchemaOf(Type.Object({ traceparent: Type.Optional(TRACEPARENT) }));

const PLATFORM_DESCRIPTIONS: Record<keyof typeof platformEventSchemas, string> = {
  'reservation.confirmed.v1':
    'A reservation is confirmed: a key of each of its kinds (PIN by default) for its stay.',
  'reservation.imported.v1':
    'A reservation moved in from another PMS: as confirmed, but no key for a check-in already past.',
  'reservation.dates_changed.v1': "The stay's dates changed: its keys' windows follow.",
  'reservation.rooms_changed.v1':
    'The rooms changed: keys are issued on the new rooms before the old ones are revoked.',
  'reservation.checked_out.v1': "The guest checked out: the reservation's keys are revoked.",
  'reservation.cancelled.v1': 'The reservation was cancelled: its keys are revoked.',
  'staff.shift.started.v1': 'A shift started (or changed): master keys over its areas, valid for the shift.',
  'staff.shift.ended.v1': 'A shift ended: its master keys are revoked.',
  'iam.user.deactivated.v1':
    "An account was deactivated: every key of the user's is revoked, ahead of other work.",
};

/** `reservation.confirmed.v1` → `ReservationConfirmedV1`. */
const pascal = (name: string) =>
  name
    .split(/[._]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
const ref = (name: string) => ({ $ref: `#/components/messages/${name}` });
const param = (description: string) => ({ description, schema: { type: 'string' } });

/**
 * The AsyncAPI document of the service's NATS subjects. Pure: the same version gives the same document.
 * `version`: the service's (`serviceVersion()`).
 */
export function buildAsyncApi(version: string): AsyncApiDocument {
  const t = topology('');
  const channels: Record<string, AsyncApiChannel> = {};
  const messages: Record<string, AsyncApiMessage> = {};
  const message = (name: string, summary: string, payload: TSchema, headers: JsonSchema) => {
    messages[name] = {
      name,
      title: name,
      summary,
      contentType: 'application/json',
      headers,
      payload: jsonSchemaOf(payload),
    };
    return ref(name);
  };

  for (const [name, schema] of Object.entries(platformEventSchemas)) {
    const summary = PLATFORM_DESCRIPTIONS[name as keyof typeof platformEventSchemas];
    channels[`${t.platformRoot}.${name}`] = {
      description: `Consumed from the platform. ${summary}`,
      'x-stream': t.platformStream,
      publish: {
        operationId: `receive${pascal(name)}`,
        summary:
          'The service consumes it (a durable consumer; acknowledged once its actor has committed it).',
        message: message(name, summary, schema, jetStreamHeaders("the platform's eventId")),
      },
    };
  }

  for (const [name, schema] of Object.entries(publishedEventSchemas)) {
    const versioned = `${name}.${PUBLISHED_VERSION}`;
    const summary = (schema as { description?: string }).description ?? name;
    channels[`${t.eventsRoot}.${versioned}`] = {
      description: `Published by the service (from its outbox, after the commit). ${summary}`,
      'x-stream': t.eventsStream,
      subscribe: {
        operationId: `publish${pascal(versioned)}`,
        summary: 'The service publishes it; platform services consume it.',
        message: message(versioned, summary, schema, jetStreamHeaders('the eventId')),
      },
    };
  }

  const inbox = Object.entries(actorEventSchemas).map(([kind, events]) =>
    message(
      `actor.${kind}`,
      `A message to a ${kind} actor: the envelope and one of its events.`,
      actorInboxMessage(events),
      jetStreamHeaders('the message id (a redelivered message with an applied id changes nothing)'),
    ),
  );
  channels[`${t.actorRoot}.{partition}.{actorType}.{actorId}`] = {
    description:
      "An actor's inbox: internal to the service (its gateway, jobs and actors send; its partition consumers " +
      'apply each message to the actor, one at a time).',
    'x-stream': t.actorsStream,
    parameters: {
      partition: param("The actor key's partition (FNV-1a of `<type>:<id>` modulo the partition count)."),
      actorType: param(`One of ${Object.keys(actorEventSchemas).join(', ')}.`),
      actorId: param("The actor's id."),
    },
    publish: {
      operationId: 'receiveActorMessage',
      summary: 'Applied by the actor.',
      message: { oneOf: inbox },
    },
    subscribe: { operationId: 'sendActorMessage', summary: 'Sent to the actor.', message: { oneOf: inbox } },
  };

  const desk = {
    propertyId: param("The agent's property."),
    agentId: param('The enrolled agent (NATS permissions limit each agent to its own subjects).'),
  };
  for (const [name, body] of Object.entries(desktopEventBodies)) {
    const id = `desktop.evt.${name}`;
    channels[`${t.desktopRoot}.{propertyId}.{agentId}.evt.${name}`] = {
      description: 'From a desktop agent: signed with its device key, verified before anything is read.',
      'x-stream': t.desktopStream,
      parameters: desk,
      publish: {
        operationId: `receive${pascal(`desktop_${name}`)}`,
        summary: 'The service hears it.',
        message: message(id, `The agent's \`${name}\`.`, signedAgentMessage(name, body), coreHeaders),
      },
    };
  }
  for (const [name, body] of Object.entries(desktopCommandSchemas)) {
    const id = `desktop.cmd.${name}`;
    const sent = name === 'encode' || name === 'operation';
    channels[`${t.desktopRoot}.{propertyId}.{agentId}.cmd.${name}`] = {
      description:
        'To a desktop agent, over core NATS (commands carry card data: never kept in a stream). ' +
        (sent ? 'The service sends it.' : 'The agent takes it; the service itself does not send it today.'),
      parameters: desk,
      subscribe: {
        operationId: `send${pascal(`desktop_${name}`)}`,
        summary: 'The agent validates it and answers with an event.',
        message: message(id, `The \`${name}\` command.`, body, coreHeaders),
      },
    };
  }

  return {
    asyncapi: '2.6.0',
    id: 'urn:melmastoon:lock-integration-service',
    info: {
      title: 'lock-integration-service',
      version,
      description:
        "The lock-integration service's NATS subjects. Operations are the service's, as AsyncAPI 2.x defines " +
        'them: `publish` is what others publish and the service receives; `subscribe` is what the service ' +
        'publishes. Payload schemas are open: v1 may gain optional fields, so a consumer ignores fields it ' +
        'does not know; a breaking change is published as v2 beside v1 (docs/asyncapi.md).',
    },
    defaultContentType: 'application/json',
    servers: {
      nats: {
        url: 'nats://127.0.0.1:4222',
        protocol: 'nats',
        protocolVersion: '2.9',
        description: 'NATS with JetStream (`NATS_URL`; this is the development default).',
      },
    },
    channels,
    components: { messages },
  };
}
