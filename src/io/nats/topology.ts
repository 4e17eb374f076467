/**
 * Every stream, subject root, consumer and bucket name the service uses, derived from one prefix so a test
 * (or a second deployment on the same server) can isolate itself. Production uses the empty prefix, which
 * gives exactly the names of the contract in DESIGN.md.
 */
export interface Topology {
  prefix: string;
  partitions: number;
  actorsStream: string;
  actorRoot: string;
  eventsStream: string;
  eventsRoot: string;
  platformStream: string;
  platformSubjects: string[];
  platformRoot: string;
  desktopStream: string;
  desktopRoot: string;
  stateRoot: string;
  leaseBucket: string;
  platformConsumer: string;
  partitionConsumer(partition: number): string;
}

export function topology(prefix = '', partitions = 32): Topology {
  const s = (name: string) => (prefix ? `${prefix}_${name}` : name);
  const subj = (root: string) => (prefix ? `${prefix}.${root}` : root);
  const platformRoot = subj('melmastoon');
  return {
    prefix,
    partitions,
    actorsStream: s('LOCK_ACTORS'),
    actorRoot: subj('lock.actor'),
    eventsStream: s('LOCK_EVENTS'),
    eventsRoot: subj('melmastoon.lock'),
    platformStream: s('PLATFORM_EVENTS'),
    platformRoot,
    platformSubjects: ['reservation', 'staff', 'iam'].map((t) => `${platformRoot}.${t}.>`),
    desktopStream: s('LOCK_DESKTOP'),
    desktopRoot: subj('lock.desktop'),
    stateRoot: subj('lock.state'),
    leaseBucket: s('LOCK_LEASES'),
    platformConsumer: s('lock-integration-platform'),
    partitionConsumer: (p) => s(`actors-p${p}`),
  };
}
