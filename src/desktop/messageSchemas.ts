/**
 * The desktop agent's NATS messages (docs/desktop-agent.md) as TypeBox schemas: the signed envelope of every
 * agent event (`lock.desktop.<propertyId>.<agentId>.evt.<name>`, verified by `verifyMessage`), the body of
 * each event, and the commands the agent takes (`….cmd.<name>`, plain JSON over core NATS).
 *
 * The command schemas are what the agent validates each command with (src/agent/agent.ts). The event bodies
 * describe what the agent sends; the service verifies the envelope and reads the bodies' fields one by one.
 */
import Type, { type TSchema } from 'typebox';
import { type WiegandFormatName, wiegandFormatNames } from '../io/encoders/wiegand.ts';

const Text = (maxLength: number) => Type.String({ maxLength });
const OperationId = Type.String({ minLength: 1, maxLength: 300 });
const RequestId = Type.String({ minLength: 1, maxLength: 200 });
const Timeout = Type.Integer({ minimum: 100, maximum: 120_000 });
const Failure = Type.String({
  maxLength: 40,
  description: 'TIMEOUT, NO_CARD, CARD_REMOVED, WRITE_FAILED, BUSY, OFFLINE, PROTOCOL or REFUSED',
});

/** `cmd.encode`: write a card for an operation (at most once: an operation done is answered from the journal). */
export const EncodeCommand = Type.Object({
  operationId: OperationId,
  encoderId: Type.Optional(Type.String()),
  data: Type.Union([
    Type.Object({
      format: Type.Unsafe<WiegandFormatName>(Type.Union(wiegandFormatNames.map((f) => Type.Literal(f)))),
      bits: Type.String({ pattern: '^[01]{26,37}$' }),
    }),
    Type.Null(),
  ]),
  rooms: Type.Array(Type.String({ maxLength: 32 }), { maxItems: 4 }),
  validFrom: Type.String({ format: 'date-time' }),
  validUntil: Type.String({ format: 'date-time' }),
  timeoutMs: Timeout,
});
/** `cmd.read` and `cmd.erase`: read, or wipe, the card in the slot. */
export const ReadCommand = Type.Object({
  requestId: RequestId,
  encoderId: Type.Optional(Type.String()),
  timeoutMs: Timeout,
});
/** `cmd.operation`: what the agent's journal says of an operation. */
export const OperationQuery = Type.Object({
  operationId: OperationId,
  /** Echoed, so the answer is tied to the question. */
  nonce: Type.Optional(Type.String({ maxLength: 64 })),
});

/** The commands the agent takes, by name (the subject's last token). */
export const desktopCommandSchemas: Readonly<Record<string, TSchema>> = {
  encode: EncodeCommand,
  read: ReadCommand,
  erase: ReadCommand,
  operation: OperationQuery,
};

/** Every agent event: signed with the agent's Ed25519 device key over the canonical JSON of the rest. */
export function signedAgentMessage(name: string, body: TSchema) {
  return Type.Object({
    v: Type.Literal(1),
    agentId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
    propertyId: Type.String({ minLength: 1 }),
    name: Type.Literal(name),
    boot: Type.String({ description: "This agent process's start number: with `seq`, orders its messages." }),
    seq: Type.Integer({ minimum: 0 }),
    at: Type.String({ format: 'date-time' }),
    body,
    sig: Type.String({
      description: 'Base64 Ed25519 signature over the canonical JSON of the message without it.',
    }),
  });
}

const Encoder = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('line'), Type.Literal('hid'), Type.Literal('onity')]),
  model: Type.Union([Type.String(), Type.Null()]),
  online: Type.Boolean(),
});

/** The body of each agent event, by name (the subject's last token). */
export const desktopEventBodies: Readonly<Record<string, TSchema>> = {
  hello: Type.Object({ encoders: Type.Array(Encoder), publicKey: Type.String() }),
  heartbeat: Type.Object({
    encoders: Type.Array(Type.Object({ id: Type.String(), online: Type.Boolean() })),
    encoding: Type.Integer({ minimum: 0, description: 'Encodes in progress.' }),
  }),
  card_encoded: Type.Object({
    operationId: OperationId,
    uid: Type.String(),
    encoderId: Type.Optional(Type.String()),
    again: Type.Boolean({ description: 'Answered from the journal: the card was written before.' }),
  }),
  encode_failed: Type.Object({
    operationId: OperationId,
    encoderId: Type.String(),
    failure: Failure,
    retryable: Type.Boolean(),
    nothingWritten: Type.Boolean(),
    reason: Text(300),
  }),
  card_read: Type.Object({
    requestId: RequestId,
    encoderId: Type.String(),
    uid: Type.String(),
    format: Type.Union([Type.String(), Type.Null()]),
  }),
  read_failed: Type.Object({ requestId: RequestId, failure: Failure, reason: Text(300) }),
  card_erased: Type.Object({ requestId: RequestId, encoderId: Type.String() }),
  erase_failed: Type.Object({ requestId: RequestId, failure: Failure, reason: Text(300) }),
  operation_state: Type.Object({
    operationId: OperationId,
    nonce: Type.Optional(Type.String({ maxLength: 64 })),
    state: Type.Union(
      (['none', 'encoding', 'started', 'done', 'failed'] as const).map((s) => Type.Literal(s)),
    ),
    uid: Type.Optional(Type.String()),
    nothingWritten: Type.Optional(Type.Boolean()),
  }),
  command_refused: Type.Object({ command: Text(40), reason: Text(300) }),
};
