/**
 * Creates the service's streams when absent (idempotent). Existing streams are left as configured, except
 * the desktop stream's limits, which are brought to these (a stream created before them had none).
 */
import {
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { Topology } from './topology.ts';

const MINUTE_NS = 60_000_000_000;

/**
 * `LOCK_DESKTOP` is written by front-desk PCs: bounded so that no agent can fill the JetStream store. Per
 * subject (an agent's event name) the newest 1,000 are kept, 64 KiB at most each, 1 GiB in all; past that
 * the oldest go. NATS 2.9 has no per-connection rate: an agent flooding distinct subjects evicts older
 * desktop messages, never anything outside this stream. Only the agents' own messages (`…evt.>`) are kept:
 * the service's commands to them (`…cmd.>`) carry card data and go over core NATS, never into a stream.
 */
export const DESKTOP_LIMITS = {
  max_msgs_per_subject: 1000,
  max_msg_size: 64 * 1024,
  max_bytes: 1024 * 1024 * 1024,
  discard: DiscardPolicy.Old,
} as const;

const desktopSubjects = (t: Topology) => [`${t.desktopRoot}.*.*.evt.>`];

export async function ensureStreams(
  jsm: JetStreamManager,
  t: Topology,
  opts: { platform: boolean },
): Promise<void> {
  const wanted: (Partial<StreamConfig> & { name: string })[] = [
    {
      name: t.actorsStream,
      subjects: [`${t.actorRoot}.>`],
      // One durable consumer per partition with non-overlapping filters: acked inbox messages are done.
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      duplicate_window: 10 * MINUTE_NS,
    },
    {
      name: t.eventsStream,
      subjects: [`${t.eventsRoot}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: 7 * 24 * 60 * MINUTE_NS,
      duplicate_window: 10 * MINUTE_NS,
    },
    {
      name: t.desktopStream,
      subjects: desktopSubjects(t),
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: 7 * 24 * 60 * MINUTE_NS,
      ...DESKTOP_LIMITS,
    },
  ];
  if (opts.platform) {
    wanted.push({
      name: t.platformStream,
      subjects: t.platformSubjects,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: 7 * 24 * 60 * MINUTE_NS,
    });
  }
  for (const cfg of wanted) {
    let existing: StreamConfig;
    try {
      existing = (await jsm.streams.info(cfg.name)).config;
    } catch {
      await jsm.streams.add(cfg);
      continue;
    }
    if (
      cfg.name === t.desktopStream &&
      ((Object.keys(DESKTOP_LIMITS) as (keyof typeof DESKTOP_LIMITS)[]).some(
        (k) => existing[k] !== DESKTOP_LIMITS[k],
      ) ||
        existing.subjects?.join() !== desktopSubjects(t).join())
    ) {
      await jsm.streams.update(cfg.name, { ...existing, ...DESKTOP_LIMITS, subjects: desktopSubjects(t) });
      // Commands a stream of an earlier version kept (card data): gone with it.
      await jsm.streams.purge(cfg.name, { filter: `${t.desktopRoot}.*.*.cmd.>` });
    }
  }
}
