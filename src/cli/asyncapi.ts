/**
 * `lock:cli asyncapi [--write]`: prints the service's AsyncAPI document, or rewrites the committed baseline
 * the compatibility test holds the code to (docs/asyncapi.md). The baseline is rewritten only on purpose: after
 * a compatible addition, or with a `v2` beside `v1` — never to make a breaking change pass.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { breakingChanges, buildAsyncApi, serviceVersion, stableJson } from '../contracts/index.ts';

export const ASYNCAPI_BASELINE = 'contracts/asyncapi.v1.json';

/** The document as the baseline holds it: sorted keys, two-space indent. */
export const asyncapiText = (): string => stableJson(buildAsyncApi(serviceVersion()));

/**
 * Rewrites the baseline; what it breaks of the previous one (written all the same: the caller asked), and
 * whether anything changed.
 */
export function writeAsyncApiBaseline(path = ASYNCAPI_BASELINE): { changed: boolean; breaking: string[] } {
  const after = asyncapiText();
  let before: string | null = null;
  try {
    before = readFileSync(path, 'utf8');
  } catch {
    // No baseline yet: this is the first.
  }
  if (after === before) return { changed: false, breaking: [] };
  const breaking = before === null ? [] : breakingChanges(JSON.parse(before), JSON.parse(after));
  writeFileSync(path, after);
  return { changed: true, breaking };
}
