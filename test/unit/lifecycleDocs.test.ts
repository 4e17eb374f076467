/**
 * docs/lifecycle.md shows the machines as they are: its diagrams and tables are generated from the machines'
 * definitions, and this fails when the document and the code disagree (regenerate with
 * `npm run -s lock:cli -- lifecycle-docs`).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { documentedMachines, LIFECYCLE_DOC } from '../../src/cli/lifecycleDocs.ts';
import { lifecycleBlocks, renderLifecycleDoc } from '../../src/machines/lifecycleDoc.ts';

describe('docs/lifecycle.md', () => {
  const doc = readFileSync(LIFECYCLE_DOC, 'utf8');
  const blocks = lifecycleBlocks(documentedMachines);

  it('lifecycle docs: every machine has its diagram and its table in the document', () => {
    for (const name of blocks.keys()) expect(doc).toContain(`<!-- generated:${name} -->`);
  });

  it('lifecycle docs: the diagrams and tables match the machines', () => {
    expect(renderLifecycleDoc(doc, blocks)).toBe(doc);
  });
});
