/**
 * Streams the runtime's inspection events to a Stately inspector over WebSocket (`INSPECT_WS_URL`), through
 * `@statelyai/inspect`'s WebSocket adapter (its connection, reconnection and bounded queue until the server
 * answers). The events are built here in the inspector protocol's shape rather than through the library's
 * `actor()`/`event()`/`snapshot()`, which would stringify a machine's whole definition for every new actor
 * and serialize each event three times: each definition is stringified once per machine, and each event once.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createWebSocketInspector } from '@statelyai/inspect';
import type { AnyStateMachine } from 'xstate';
import type { InspectionEvent } from './inspection.ts';

export interface InspectionSink {
  emit(events: InspectionEvent[]): void;
  stop(): void;
}

/** The protocol's `_version`: the library's own (its package.json is not exported; read from beside its entry). */
const version = (
  JSON.parse(
    readFileSync(
      path.join(
        path.dirname(createRequire(import.meta.url).resolve('@statelyai/inspect')),
        '..',
        'package.json',
      ),
      'utf8',
    ),
  ) as { version: string }
).version;

/** A machine's definition as the inspector reads it: its config, functions named (as the library does). */
function definitionOf(machine: AnyStateMachine): string {
  return JSON.stringify(machine.config, (_k, v: unknown) =>
    typeof v === 'function' ? { type: (v as { name?: string }).name ?? 'function' } : v,
  );
}

export function statelyInspectionSink(
  url: string,
  machines: Record<string, AnyStateMachine>,
): InspectionSink {
  const inspector = createWebSocketInspector({ url });
  const definitions = new Map<string, string>();
  const definition = (type: string) => {
    let d = definitions.get(type);
    const m = machines[type];
    if (d === undefined && m) definitions.set(type, (d = definitionOf(m)));
    return d;
  };
  let n = 0;
  const send = (e: Record<string, unknown>) =>
    inspector.adapter.send({
      ...e,
      _version: version,
      createdAt: Date.now().toString(),
      rootId: 'anonymous',
    } as never);
  return {
    emit(events) {
      for (const e of events) {
        if (e.type === '@xstate.actor')
          send({
            type: '@xstate.actor',
            name: machines[e.actorType]?.id ?? e.sessionId,
            sessionId: e.sessionId,
            id: null,
            definition: definition(e.actorType),
            snapshot: e.snapshot,
          });
        else if (e.type === '@xstate.event')
          send({
            type: '@xstate.event',
            sessionId: e.sessionId,
            ...(e.sourceId ? { sourceId: e.sourceId } : {}),
            event: e.event,
            id: String((n += 1)),
          });
        else
          send({
            type: '@xstate.snapshot',
            sessionId: e.sessionId,
            event: e.event,
            snapshot: e.snapshot,
            id: null,
          });
      }
    },
    stop: () => inspector.stop(),
  };
}
