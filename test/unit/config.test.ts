import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

describe('config', () => {
  it('config: vendor calls in the turn are on unless CALLS_IN_TURN is false', () => {
    const keys = mkdtempSync(path.join(tmpdir(), 'lock-devkeys-'));
    const base = { DEV_KEYS_DIR: keys };
    try {
      expect(loadConfig({ ...base }).callsInTurn).toBe(true);
      expect(loadConfig({ ...base, CALLS_IN_TURN: 'true' }).callsInTurn).toBe(true);
      expect(loadConfig({ ...base, CALLS_IN_TURN: 'false' }).callsInTurn).toBe(false);
    } finally {
      rmSync(keys, { recursive: true, force: true });
    }
  });
});
