/**
 * Whether an AsyncAPI document still honours a baseline's messages: what a `v1` consumer (or producer) built
 * against the baseline could trip over. Breaking: a channel or message gone; in a payload or headers schema, a
 * field removed, a field's type changed (a type gone, or a new one allowed beside it), an optional field made
 * required, a new required field, an enum or literal value removed, `additionalProperties` tightened. Fine: new
 * optional fields, new enum values, new channels and messages. Constraints (lengths, patterns, formats,
 * bounds) are not compared.
 */

type Schema = Record<string, unknown>;

const isSchema = (v: unknown): v is Schema => !!v && typeof v === 'object' && !Array.isArray(v);
const schemaAt = (v: unknown): Schema => (isSchema(v) ? v : {});
const membersOf = (v: unknown): Record<string, unknown> => (isSchema(v) ? v : {});

/** A union's members (nested unions and enums flattened), or the schema itself. */
function alternatives(s: Schema): Schema[] {
  const union = s.anyOf ?? s.oneOf;
  if (Array.isArray(union)) return union.filter(isSchema).flatMap(alternatives);
  if (Array.isArray(s.enum)) return s.enum.map((value: unknown) => ({ const: value }));
  return [s];
}

const typeOf = (s: Schema): string =>
  Array.isArray(s.type) ? s.type.join('|') : typeof s.type === 'string' ? s.type : 'any';

/** What pairs a union member with its counterpart: its literal value, its `type` tag, or its type. */
function keyOf(s: Schema): string {
  if ('const' in s) return `value ${JSON.stringify(s.const)}`;
  const tag = schemaAt(membersOf(s.properties).type).const;
  if (typeOf(s) === 'object' && tag !== undefined) return `object ${JSON.stringify(tag)}`;
  return typeOf(s);
}

function compare(path: string, before: Schema, after: Schema, out: string[]): void {
  const was = alternatives(before);
  const now = new Map<string, Schema[]>();
  for (const s of alternatives(after)) now.set(keyOf(s), [...(now.get(keyOf(s)) ?? []), s]);
  if (was.length === 1 && now.size === 1) {
    const [key] = now.keys();
    const [only] = was;
    // One type for another (a literal changed is its value removed, below).
    if (only && key !== undefined && keyOf(only) !== key && !('const' in only) && !key.startsWith('value ')) {
      out.push(`${path}: type changed from ${keyOf(only)} to ${key}`);
      return;
    }
  }
  const matched = new Set<string>();
  for (const s of was) {
    const key = keyOf(s);
    const counterpart = now.get(key)?.shift();
    if (!counterpart) {
      out.push(key.startsWith('value ') ? `${path}: ${key} removed` : `${path}: ${key} no longer allowed`);
      continue;
    }
    matched.add(key);
    compareMatched(path, s, counterpart, out);
  }
  for (const [key, left] of now)
    if (left.length > 0 && !key.startsWith('value ') && !matched.has(key))
      out.push(`${path}: type changed, now also ${key}`);
}

/** Two members of the same kind: their fields, items and additional properties. */
function compareMatched(path: string, before: Schema, after: Schema, out: string[]): void {
  if (typeOf(before) === 'array' && isSchema(before.items) && isSchema(after.items))
    compare(`${path}[]`, before.items, after.items, out);
  if (typeOf(before) !== 'object') return;
  const was = membersOf(before.properties);
  const now = membersOf(after.properties);
  const wasRequired = new Set(Array.isArray(before.required) ? before.required : []);
  const nowRequired = new Set(Array.isArray(after.required) ? after.required : []);
  for (const [name, schema] of Object.entries(was)) {
    const field = `${path}/${name}`;
    if (!(name in now)) {
      out.push(`${field}: field removed`);
      continue;
    }
    if (!wasRequired.has(name) && nowRequired.has(name)) out.push(`${field}: optional field made required`);
    compare(field, schemaAt(schema), schemaAt(now[name]), out);
  }
  for (const name of Object.keys(now))
    if (!(name in was) && nowRequired.has(name)) out.push(`${path}/${name}: new required field`);
  compareAdditional(path, before, after, out);
}

/** `additionalProperties` and `patternProperties` (TypeBox's records): what other fields may appear. */
function compareAdditional(path: string, before: Schema, after: Schema, out: string[]): void {
  const wasOpen = before.additionalProperties === undefined || before.additionalProperties === true;
  const nowOpen = after.additionalProperties === undefined || after.additionalProperties === true;
  if (wasOpen && !nowOpen) out.push(`${path}: additionalProperties tightened`);
  else if (isSchema(before.additionalProperties)) {
    if (after.additionalProperties === false) out.push(`${path}: additionalProperties tightened`);
    else if (isSchema(after.additionalProperties))
      compare(`${path}/*`, before.additionalProperties, after.additionalProperties, out);
  }
  const nowPatterns = membersOf(after.patternProperties);
  for (const [pattern, schema] of Object.entries(membersOf(before.patternProperties))) {
    if (!(pattern in nowPatterns)) out.push(`${path}: fields matching ${pattern} no longer allowed`);
    else compare(`${path}/{${pattern}}`, schemaAt(schema), schemaAt(nowPatterns[pattern]), out);
  }
}

/**
 * The breaking changes from `baseline` to `current` (two AsyncAPI documents, as parsed JSON), each naming
 * its channel or message and the path in the schema; empty when `current` keeps every promise of `baseline`.
 * Pure.
 */
export function breakingChanges(baseline: unknown, current: unknown): string[] {
  const out: string[] = [];
  const was = schemaAt(baseline);
  const now = schemaAt(current);
  const nowChannels = membersOf(now.channels);
  for (const channel of Object.keys(membersOf(was.channels)))
    if (!(channel in nowChannels)) out.push(`channel ${channel}: removed`);
  const nowMessages = membersOf(schemaAt(now.components).messages);
  for (const [name, message] of Object.entries(membersOf(schemaAt(was.components).messages))) {
    if (!(name in nowMessages)) {
      out.push(`${name}: message removed`);
      continue;
    }
    for (const part of ['payload', 'headers'] as const)
      compare(
        `${name} ${part}`,
        schemaAt(schemaAt(message)[part]),
        schemaAt(schemaAt(nowMessages[name])[part]),
        out,
      );
  }
  return out;
}
