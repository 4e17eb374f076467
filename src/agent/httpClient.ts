/**
 * How the agent reaches the service's `/sync/v1`: the platform's fetch, or — when the service's certificate is
 * signed by a CA of the deployment's own (`sync.caFile`) — undici's fetch with that CA trusted for these
 * requests only (the process's other TLS is untouched).
 */
import { readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';

export type SyncFetch = (url: string, init: RequestInit) => Promise<Response>;

export function syncFetch(o: { caFile?: string }): SyncFetch {
  if (!o.caFile) return (url, init) => fetch(url, init);
  const dispatcher = new Agent({ connect: { ca: readFileSync(o.caFile, 'utf8') } });
  return (url, init) =>
    undiciFetch(url, {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher,
    }) as unknown as Promise<Response>;
}

/** Why a request did not reach the service: fetch's own message and its cause (a refused connection, a TLS error). */
export function whyUnreachable(e: unknown): string {
  const err = e as Error & { cause?: { message?: string; code?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return cause ? `${err.message} (${cause})` : String(err.message ?? e);
}
