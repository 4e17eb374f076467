/**
 * The agent's record of what it did for each operation, so a command sent again (the service retried after a
 * lost answer, or the agent restarted) is answered, not done twice. Append-only JSON lines, fsynced before
 * the answer goes out; a torn last line (a crash mid-write) is ignored on load. It holds no card number: only
 * a digest of what an encode wrote, to recognise that card in the slot after a crash.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';

export type JournalEntry =
  /** An encode began (written before the encoder is asked): a crash after it means "maybe written". */
  | { op: string; state: 'started'; digest: string; encoderId?: string; at: string }
  | { op: string; state: 'done'; uid: string; at: string }
  | { op: string; state: 'failed'; failure: string; reason: string; nothingWritten: boolean; at: string };

export const dataDigest = (format: string, bits: string) =>
  createHash('sha256').update(`${format}:${bits}`).digest('base64url').slice(0, 22);

export class Journal {
  private readonly last = new Map<string, JournalEntry>();
  private readonly fd: number;

  constructor(readonly file: string) {
    if (existsSync(file))
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          const e = JSON.parse(line) as JournalEntry;
          if (typeof e.op === 'string') this.last.set(e.op, e);
        } catch {
          // A torn line from a crash mid-append: what it said did not happen as far as the agent knows.
        }
      }
    this.fd = openSync(file, 'a', 0o600);
    // A torn last line gets its end, so the next record starts a line of its own.
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      if (text.length > 0 && !text.endsWith('\n')) writeSync(this.fd, '\n');
    }
  }

  get(op: string): JournalEntry | undefined {
    return this.last.get(op);
  }

  /** Appended and on disk before it returns. */
  record(e: JournalEntry): void {
    writeSync(this.fd, `${JSON.stringify(e)}\n`);
    fsyncSync(this.fd);
    this.last.set(e.op, e);
  }

  /** Operations begun and never finished (the agent stopped mid-encode). */
  unfinished(): (JournalEntry & { state: 'started' })[] {
    return [...this.last.values()].filter(
      (e): e is JournalEntry & { state: 'started' } => e.state === 'started',
    );
  }

  close(): void {
    closeSync(this.fd);
  }
}
