/** What the REST-driving CLI commands share: their error (with its exit code), output, and the API client. */

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

export interface CliIo {
  out(line: string): void;
  /** A line that replaces the previous progress line on a terminal. */
  progress(line: string): void;
  sleep(ms: number): Promise<void>;
}

export const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  progress: (line) =>
    process.stdout.isTTY ? process.stdout.write(`\r\x1b[2K${line}`) : process.stdout.write(`${line}\n`),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** Calls `/api/v1` with the token; a problem answer becomes a CliError naming its code and detail. */
export function restClient(url: string, token: string) {
  return async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${url.replace(/\/$/, '')}/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (e) {
      throw new CliError(`cannot reach ${url}: ${(e as Error).message}`, 1);
    }
    const text = await res.text();
    const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!res.ok)
      throw new CliError(
        `${method} ${path}: ${res.status} ${String(json.code ?? '')} ${String(json.detail ?? json.title ?? '')}`.trim(),
        1,
      );
    return json as T;
  };
}
