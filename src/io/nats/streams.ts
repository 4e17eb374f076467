/** Creates the service's streams when absent (idempotent; existing streams are left as configured). */
import { type JetStreamManager, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import type { Topology } from './topology.ts';

const MINUTE_NS = 60_000_000_000;

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
      subjects: [`${t.desktopRoot}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: 7 * 24 * 60 * MINUTE_NS,
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
    try {
      await jsm.streams.info(cfg.name);
    } catch {
      await jsm.streams.add(cfg);
    }
  }
}
