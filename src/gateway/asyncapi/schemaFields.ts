/**
 * A message's payload schema as the rows a reader scans: every field by its dotted path (`data.grants[].vendorRef`),
 * its type in a few words, and whether it is required. A union of tagged objects (an actor's events) lists
 * each member's fields under its tag: `event[credential.issue].rooms`.
 */

type Schema = Record<string, unknown>;

export interface FieldRow {
  name: string;
  type: string;
  required: boolean;
  description?: string;
}

const isSchema = (v: unknown): v is Schema => !!v && typeof v === 'object' && !Array.isArray(v);
const membersOf = (s: Schema): Schema[] => {
  const union = s.anyOf ?? s.oneOf;
  return Array.isArray(union) ? union.filter(isSchema) : [];
};
const propertiesOf = (s: Schema): Record<string, unknown> | null =>
  isSchema(s.properties) ? s.properties : null;
const tagOf = (s: Schema): unknown => {
  const type = propertiesOf(s)?.type;
  return isSchema(type) ? type.const : undefined;
};

/** A schema's type in a few words: `string (date-time)`, `"pin" | "card"`, `object[]`, `map of object`. Pure. */
export function typeLabel(s: Schema): string {
  if ('const' in s) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  const members = membersOf(s);
  if (members.length > 0) {
    const tags = members.map(tagOf).filter((t) => t !== undefined);
    if (tags.length === members.length) return `one of ${members.length} (by type, below)`;
    return members.map(typeLabel).join(' | ');
  }
  if (s.type === 'array') return `${isSchema(s.items) ? typeLabel(s.items) : 'any'}[]`;
  if (s.type === 'string' && typeof s.format === 'string') return `string (${s.format})`;
  if (s.type === 'object' && isSchema(s.patternProperties)) {
    const [value] = Object.values(s.patternProperties).filter(isSchema);
    return `map of ${value && Object.keys(value).length > 0 ? typeLabel(value) : 'any'}`;
  }
  return typeof s.type === 'string' ? s.type : 'any';
}

function descend(s: Schema, name: string, rows: FieldRow[]): void {
  if (propertiesOf(s)) fieldsInto(s, `${name}.`, rows);
  else if (s.type === 'array' && isSchema(s.items)) descend(s.items, `${name}[]`, rows);
  else {
    const objects = membersOf(s).filter((m) => propertiesOf(m));
    if (objects.length === 1 && objects[0]) fieldsInto(objects[0], `${name}.`, rows);
    else objects.forEach((m, i) => fieldsInto(m, `${name}[${String(tagOf(m) ?? i)}].`, rows));
  }
}

function fieldsInto(s: Schema, prefix: string, rows: FieldRow[]): void {
  const required = new Set(Array.isArray(s.required) ? s.required : []);
  for (const [key, value] of Object.entries(propertiesOf(s) ?? {})) {
    if (!isSchema(value)) continue;
    const name = `${prefix}${key}`;
    rows.push({
      name,
      type: typeLabel(value),
      required: required.has(key),
      ...(typeof value.description === 'string' ? { description: value.description } : {}),
    });
    descend(value, name, rows);
  }
}

/** The rows of an object schema's fields, nested ones included, in the schema's order. Pure. */
export function schemaFields(schema: Schema): FieldRow[] {
  const rows: FieldRow[] = [];
  fieldsInto(schema, '', rows);
  return rows;
}
