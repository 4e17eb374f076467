/** Starts the runtime as a child process (test/support/runtimeProcess.ts) and kills it for real. */
import { type ChildProcess, spawn } from 'node:child_process';
import type { ServiceSettings } from '../../src/service.ts';

/** SIGKILL to a child (none, or one already gone: nothing), resolved once it has exited. */
export async function killNine(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

export interface RuntimeProcess {
  child: ChildProcess;
  owner: string;
  /** SIGKILL: no cleanup of any kind, as a machine losing power. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export async function spawnRuntime(
  settings: ServiceSettings,
  owner: string,
  /** Serve the REST gateway too, on this port, accepting development tokens signed with this secret. */
  gateway?: { port: number; authSecret: Buffer },
): Promise<RuntimeProcess> {
  const { clock: _c, log: _l, secretKey, ...rest } = settings;
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/runtimeProcess.ts'], {
    env: {
      ...process.env,
      RUNTIME_SETTINGS: JSON.stringify({ ...rest, owner, secretKey: secretKey.toString('base64') }),
      ...(gateway
        ? {
            RUNTIME_GATEWAY: JSON.stringify({
              port: gateway.port,
              authSecret: gateway.authSecret.toString('base64'),
            }),
          }
        : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(`ready ${owner}`)) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`runtime ${owner} exited (${code}) before ready: ${stderr}`)),
    );
  });
  return {
    child,
    owner,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
