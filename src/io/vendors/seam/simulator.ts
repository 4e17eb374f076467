/**
 * Simulated Seam is Seam's own fake (`@seamapi/fake-seam-connect`, the server Seam's SDKs test
 * against), seeded with its default workspace; nothing of ours stands in for Seam. Loaded lazily, so
 * the service does not load it unless it simulates Seam.
 */
export const SEAM_FAKE_API_KEY = 'seam_apikey1_token';
const WORKSPACE = 'seed_workspace_1';

export interface SeamFake {
  url: string;
  apiKey: string;
  /** The access codes on a device, as Seam reports them. */
  accessCodes(deviceId: string): Promise<{ access_code_id: string; starts_at?: string; ends_at?: string }[]>;
  /** Answers 503 on the given routes (the fake's workspace outage); none ends it. */
  outage(routes: string[]): Promise<void>;
  close(): Promise<void>;
}

export async function startSeamFake(opts: { port?: number } = {}): Promise<SeamFake> {
  const { createFake } = await import('@seamapi/fake-seam-connect');
  const fake = await createFake();
  await fake.seed();
  await fake.startServer(opts.port ? { port: opts.port } : {});
  const url = String(fake.serverUrl).replace('localhost', '127.0.0.1');
  const call = async (path: string, body: unknown) => {
    const r = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SEAM_FAKE_API_KEY}` },
      body: JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`seam fake ${path}: HTTP ${r.status}`);
    return r.json() as Promise<Record<string, unknown>>;
  };
  return {
    url,
    apiKey: SEAM_FAKE_API_KEY,
    async accessCodes(deviceId) {
      const r = await call('/access_codes/list', { device_id: deviceId });
      return r.access_codes as { access_code_id: string; starts_at?: string; ends_at?: string }[];
    },
    async outage(routes) {
      await call('/_fake/simulate_workspace_outage', { workspace_id: WORKSPACE, routes });
    },
    close: () => fake.stopServer(),
  };
}
