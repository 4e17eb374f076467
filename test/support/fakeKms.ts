/**
 * A local fake of the Cloud KMS REST surface the service uses (`cryptoKeys.encrypt` / `decrypt`, and for the
 * offline-issuance key `cryptoKeyVersions.asymmetricSign` / `getPublicKey` with an Ed25519 version), strict
 * where KMS is: a bearer token is required, the key must exist, the associated data must match at decrypt
 * (INVALID_ARGUMENT otherwise), an Ed25519 key signs `data` (never a digest), errors in Google's JSON error
 * shape. The real client (`@google-cloud/kms` over its REST fallback) is pointed at it.
 */
import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuth2Client } from 'google-auth-library';
import { createKmsClient } from '../../src/io/crypto/keyEncryption.ts';

export interface FakeKms {
  port: number;
  keyName: string;
  /** An Ed25519 signing key version (`EC_SIGN_ED25519`). */
  signingKeyVersion: string;
  calls: Array<{ method: 'encrypt' | 'decrypt' | 'asymmetricSign' | 'getPublicKey'; name: string }>;
  client(): ReturnType<typeof createKmsClient>;
  close(): Promise<void>;
}

export async function startFakeKms(
  keyName = 'projects/p/locations/global/keyRings/lock/cryptoKeys/tenant-keys',
): Promise<FakeKms> {
  const keys = new Map([[keyName, randomBytes(32)]]);
  const signingKeyVersion = `${keyName.replace(/[^/]+$/, 'offline-issuance-signing')}/cryptoKeyVersions/1`;
  const signing = generateKeyPairSync('ed25519');
  const calls: FakeKms['calls'] = [];
  const fail = (res: ServerResponse, code: number, status: string, message: string) => {
    res.statusCode = code;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ error: { code, message, status } }));
  };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => {
      raw += d.toString();
    });
    req.on('end', () => {
      if (!/^Bearer \S+$/.test(req.headers.authorization ?? ''))
        return fail(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
      const path = decodeURIComponent((req.url ?? '').split('?')[0] ?? '');
      const pub = /^\/v1\/(.+)\/publicKey$/.exec(path);
      if (req.method === 'GET' && pub?.[1]) {
        if (pub[1] !== signingKeyVersion)
          return fail(res, 404, 'NOT_FOUND', `CryptoKeyVersion ${pub[1]} not found.`);
        calls.push({ method: 'getPublicKey', name: pub[1] });
        res.setHeader('content-type', 'application/json');
        return res.end(
          JSON.stringify({
            pem: signing.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
            algorithm: 'EC_SIGN_ED25519',
            name: signingKeyVersion,
            protectionLevel: 'HSM',
          }),
        );
      }
      const signReq = /^\/v1\/(.+):asymmetricSign$/.exec(path);
      if (req.method === 'POST' && signReq?.[1]) {
        if (signReq[1] !== signingKeyVersion)
          return fail(res, 404, 'NOT_FOUND', `CryptoKeyVersion ${signReq[1]} not found.`);
        const body = JSON.parse(raw || '{}') as { data?: string; digest?: unknown };
        if (body.digest || !body.data)
          return fail(res, 400, 'INVALID_ARGUMENT', 'EC_SIGN_ED25519 keys sign data, not a digest.');
        calls.push({ method: 'asymmetricSign', name: signReq[1] });
        const signature = sign(null, Buffer.from(body.data, 'base64'), signing.privateKey).toString('base64');
        res.setHeader('content-type', 'application/json');
        return res.end(JSON.stringify({ signature, name: signingKeyVersion, verifiedDataCrc32c: false }));
      }
      const m = /^\/v1\/(.+):(encrypt|decrypt)$/.exec(path);
      if (req.method !== 'POST' || !m?.[1] || !m[2]) return fail(res, 404, 'NOT_FOUND', 'no such method');
      const [name, method] = [m[1], m[2] as 'encrypt' | 'decrypt'];
      const key = keys.get(name);
      if (!key) return fail(res, 404, 'NOT_FOUND', `CryptoKey ${name} not found.`);
      calls.push({ method, name });
      const body = JSON.parse(raw || '{}') as Record<string, string | undefined>;
      const aad = Buffer.from(body.additionalAuthenticatedData ?? '', 'base64');
      res.setHeader('content-type', 'application/json');
      if (method === 'encrypt') {
        const iv = randomBytes(12);
        const c = createCipheriv('aes-256-gcm', key, iv);
        c.setAAD(aad);
        const ct = Buffer.concat([c.update(Buffer.from(body.plaintext ?? '', 'base64')), c.final()]);
        const ciphertext = Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
        return res.end(JSON.stringify({ name: `${name}/cryptoKeyVersions/1`, ciphertext }));
      }
      const blob = Buffer.from(body.ciphertext ?? '', 'base64');
      try {
        const d = createDecipheriv('aes-256-gcm', key, blob.subarray(0, 12));
        d.setAAD(aad);
        d.setAuthTag(blob.subarray(12, 28));
        const plaintext = Buffer.concat([d.update(blob.subarray(28)), d.final()]).toString('base64');
        return res.end(JSON.stringify({ plaintext }));
      } catch {
        return fail(res, 400, 'INVALID_ARGUMENT', 'Decryption failed: the ciphertext is invalid.');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    keyName,
    signingKeyVersion,
    calls,
    client() {
      // A real OAuth2 client holding a token that does not expire within the test: no network for auth.
      const authClient = new OAuth2Client();
      authClient.setCredentials({ access_token: 'test-token', expiry_date: Date.now() + 3_600_000 });
      return createKmsClient({ apiEndpoint: '127.0.0.1', port, protocol: 'http', authClient });
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
