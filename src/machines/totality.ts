/**
 * Totality: every state of every machine says what it does with every event of its machine's union —
 * handles it, defers it (keeps it and applies it when the state allows), or ignores it with a reason.
 * `test/unit/machines/totality.test.ts` reads the machines and fails on any pair left unsaid.
 */

/** A transition that ignores its event, saying why (shown in the docs' diagrams and the inspector). */
export function ignore(reason: string): { description: string } {
  return { description: `ignored: ${reason}` };
}

/** Whether a transition config is a declared ignore. */
export function isIgnore(t: { description?: string | undefined }): boolean {
  return typeof t.description === 'string' && t.description.startsWith('ignored: ');
}
