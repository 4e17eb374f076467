/**
 * The machines, drawn from their definitions: a Mermaid `stateDiagram-v2` per machine (every transition that
 * changes state, with its event and guard; a transient state drawn as a choice) and a table of what each
 * state it can rest in does with each event of its union (acts on it, defers it, or ignores it and why).
 * `docs/lifecycle.md` is made of these (`npm run -s lock:cli -- lifecycle-docs`), and a test fails when the
 * document and the code disagree. Pure.
 */
import type { AnyStateMachine, AnyTransitionDefinition } from 'xstate';
import { isIgnore } from './totality.ts';

type Node = AnyStateMachine['root'];

/** A guard as written: a name, `a & b`, `!a`. */
function guardLabel(g: unknown): string {
  if (!g) return '';
  if (typeof g === 'string') return g;
  const f = g as { name?: string; type?: string; guards?: unknown[] };
  if (Array.isArray(f.guards)) {
    const parts = f.guards.map(guardLabel);
    if (f.name === 'not') return `!${parts[0]}`;
    return parts.join(f.name === 'or' ? ' | ' : ' & ');
  }
  return f.type ?? 'guard';
}

/** A Mermaid id for a state node: its path without the machine's id. */
const idOf = (n: Node) => n.id.split('.').slice(1).join('_') || 'root';
const children = (n: Node) => Object.values(n.states) as Node[];
const isTransient = (n: Node) =>
  children(n).length === 0 &&
  ([] as { guard?: unknown }[]).concat((n.config.always as never) ?? []).some((t) => t.guard === undefined);

function edge(t: AnyTransitionDefinition, label: string): string[] {
  return (t.target ?? []).map((target) => {
    const to = target as Node;
    const into = children(to).length > 0 && to.initial ? idOf(to) : idOf(to);
    return `  ${idOf(t.source as Node)} --> ${into}${label ? `: ${label}` : ''}`;
  });
}

/** The machine as a Mermaid state diagram (state-changing transitions only; the table says the rest). */
export function toMermaid(machine: AnyStateMachine): string {
  const lines = ['stateDiagram-v2', '  direction LR'];
  const declare = (n: Node, indent: string) => {
    for (const c of children(n)) {
      const name = c.key;
      if (isTransient(c)) lines.push(`${indent}state ${idOf(c)} <<choice>>`);
      else if (children(c).length > 0) {
        lines.push(`${indent}state "${name}" as ${idOf(c)} {`);
        const initial = c.config.initial as string | undefined;
        if (initial) lines.push(`${indent}  [*] --> ${idOf(c.states[initial] as Node)}`);
        declare(c, `${indent}  `);
        lines.push(`${indent}}`);
      } else if (idOf(c) !== name) lines.push(`${indent}state "${name}" as ${idOf(c)}`);
    }
  };
  declare(machine.root, '  ');
  const initial = machine.root.config.initial as string | undefined;
  if (initial) lines.push(`  [*] --> ${idOf(machine.root.states[initial] as Node)}`);
  const walk = (n: Node) => {
    for (const [type, ts] of n.transitions)
      for (const t of ts) {
        if (isIgnore(t) || !t.target?.length) continue;
        const g = guardLabel(t.guard);
        lines.push(...edge(t, `${type}${g ? ` [${g}]` : ''}`));
      }
    for (const t of n.always ?? []) {
      if (!t.target?.length) continue;
      const g = guardLabel(t.guard);
      lines.push(...edge(t, g ? `[${g}]` : 'otherwise'));
    }
    for (const c of children(n)) walk(c);
  };
  walk(machine.root);
  return lines.join('\n');
}

/** The states an actor can rest in, with the node each event of the union meets (walking up to the root). */
export function totalityTable(machine: AnyStateMachine, events: readonly string[]): string {
  const rows = ['| state | acts on | defers | ignores (why) |', '| --- | --- | --- | --- |'];
  const resting: Node[] = [];
  const collect = (n: Node) => {
    const cs = children(n);
    if (cs.length === 0 && !isTransient(n)) resting.push(n);
    for (const c of cs) collect(c);
  };
  collect(machine.root);
  for (const s of resting) {
    const acts: string[] = [];
    const defers: string[] = [];
    const ignores: string[] = [];
    for (const e of events) {
      const { guarded, catchAll } = declaration(s, e);
      if (guarded) acts.push(`\`${e}\``);
      if (!catchAll) continue;
      const why = catchAll.description?.slice('ignored: '.length);
      if (isIgnore(catchAll)) ignores.push(`\`${e}\`${guarded ? ' otherwise' : ''} (${why})`);
      else if (catchAll.description?.startsWith('deferred: ')) defers.push(`\`${e}\``);
      else if (!guarded) acts.push(`\`${e}\``);
    }
    const name = s.id.split('.').slice(1).join('.');
    rows.push(`| ${name} | ${acts.join(', ')} | ${defers.join(', ')} | ${ignores.join('; ')} |`);
  }
  return rows.join('\n');
}

/**
 * How a state meets an event, walking up to the root: a guarded transition that acts (if any comes first),
 * and the first unguarded one (the totality test's rule: what happens when no guard holds).
 */
function declaration(
  s: Node,
  event: string,
): { guarded?: AnyTransitionDefinition; catchAll?: AnyTransitionDefinition } {
  let guarded: AnyTransitionDefinition | undefined;
  for (let n: Node | undefined = s; n; n = n.parent as Node | undefined) {
    const ts = n.transitions.get(event) ?? [];
    guarded ??= ts.find((t) => t.guard !== undefined && !isIgnore(t));
    const catchAll = ts.find((t) => t.guard === undefined);
    if (catchAll) return { ...(guarded ? { guarded } : {}), catchAll };
  }
  return guarded ? { guarded } : {};
}

/** The generated blocks of docs/lifecycle.md: a diagram and a table per machine, by marker name. */
export function lifecycleBlocks(
  machines: readonly { name: string; machine: AnyStateMachine; events: readonly string[] }[],
): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const m of machines) {
    blocks.set(`diagram ${m.name}`, ['```mermaid', toMermaid(m.machine), '```'].join('\n'));
    blocks.set(`table ${m.name}`, totalityTable(m.machine, m.events));
  }
  return blocks;
}

// A block's body never contains a closing marker, so an empty block cannot run on into the next one.
const BLOCK =
  /<!-- generated:([a-z]+ [A-Za-z]+) -->\n(?:(?!<!-- \/generated -->)[\s\S])*<!-- \/generated -->/g;

/** The document with every generated block replaced by what the code gives now. */
export function renderLifecycleDoc(doc: string, blocks: Map<string, string>): string {
  return doc.replace(BLOCK, (whole, name: string) => {
    const body = blocks.get(name);
    return body === undefined ? whole : `<!-- generated:${name} -->\n${body}\n<!-- /generated -->`;
  });
}
