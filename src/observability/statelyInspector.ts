/**
 * Streams the runtime's inspection events to a Stately inspector over WebSocket (`INSPECT_WS_URL`), through
 * `@statelyai/inspect`'s WebSocket inspector: each actor announced with its machine's definition, so the
 * inspector draws it, then its events (with their source actor) and snapshots. Nothing is sent when the URL is
 * unset; a server out of reach only means the events are kept (a bounded queue) until it answers.
 */
import { createWebSocketInspector } from '@statelyai/inspect';
import type { AnyStateMachine } from 'xstate';
import type { InspectionEvent } from './inspection.ts';

type WebSocketInspector = ReturnType<typeof createWebSocketInspector>;
type ActorArg = Parameters<WebSocketInspector['actor']>[0];

export interface InspectionSink {
  emit(events: InspectionEvent[]): void;
  stop(): void;
}

export function statelyInspectionSink(
  url: string,
  machines: Record<string, AnyStateMachine>,
): InspectionSink {
  const inspector = createWebSocketInspector({ url });
  return {
    emit(events) {
      for (const e of events) {
        if (e.type === '@xstate.actor') {
          // An actor-like object: the inspector reads its session id and its machine's definition from it.
          const ref = { sessionId: e.sessionId, logic: { config: machines[e.actorType]?.config } };
          inspector.actor(
            ref as unknown as ActorArg,
            e.snapshot as Parameters<WebSocketInspector['actor']>[1],
          );
        } else if (e.type === '@xstate.event')
          inspector.event(e.sessionId, e.event as { type: string }, e.sourceId ? { source: e.sourceId } : {});
        else
          inspector.snapshot(e.sessionId, e.snapshot as Parameters<WebSocketInspector['snapshot']>[1], {
            event: e.event as { type: string },
          });
      }
    },
    stop: () => inspector.stop(),
  };
}
