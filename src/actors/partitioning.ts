/** Actor addressing: `(type, id)` → partition → inbox subject `<root>.<partition>.<type>.<id>`. Pure. */
export const actorTypes = [
  'credential',
  'property',
  'lockDevice',
  'reservation',
  'staff',
  'vendorSwitch',
] as const;
export type ActorType = (typeof actorTypes)[number];

export interface ActorAddress {
  type: ActorType;
  id: string;
}

/** FNV-1a: stable across processes and versions, which the partition count relies on. */
export function partitionOf(type: string, id: string, partitions: number): number {
  let h = 0x811c9dc5;
  const key = `${type}:${id}`;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

export function actorSubject(root: string, partitions: number, a: ActorAddress): string {
  return `${root}.${partitionOf(a.type, a.id, partitions)}.${a.type}.${a.id}`;
}

/** Reads an inbox subject back into its address, or null when it is not one. */
export function parseActorSubject(
  root: string,
  subject: string,
): (ActorAddress & { partition: number }) | null {
  if (!subject.startsWith(`${root}.`)) return null;
  const [p, type, id, ...rest] = subject.slice(root.length + 1).split('.');
  if (rest.length > 0 || !p || !type || !id) return null;
  if (!(actorTypes as readonly string[]).includes(type)) return null;
  return { partition: Number(p), type: type as ActorType, id };
}

/** Ids become subject tokens: no dots, wildcards or whitespace. */
export const SUBJECT_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
