/**
 * A pair of real serial ports joined back to back (`socat` pty pair), as the desk's encoder cable is: what
 * one end writes, the other reads, through the kernel's tty layer. `unplug()` kills socat: both ends go away
 * as a USB encoder pulled out does.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface SerialPair {
  a: string;
  b: string;
  unplug(): Promise<void>;
  close(): Promise<void>;
}

export async function serialPair(): Promise<SerialPair> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lock-serial-'));
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  const proc: ChildProcess = spawn(
    'socat',
    ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // socat says when both ptys exist and it is copying between them.
  await new Promise<void>((resolve, reject) => {
    let said = '';
    proc.stderr?.on('data', (d: Buffer) => {
      said += d.toString();
      if (said.includes('starting data transfer loop')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`socat exited (${code}): ${said.slice(0, 400)}`)));
    proc.once('error', reject);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const unplug = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  };
  return {
    a,
    b,
    unplug,
    async close() {
      await unplug();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
