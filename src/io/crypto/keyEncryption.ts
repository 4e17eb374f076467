/**
 * The key-encryption key (KEK) that wraps each tenant's data key: Cloud KMS in production
 * (`KMS_KEY_NAME`, through `@google-cloud/kms`), a local key file by default. Only wrapped data keys are
 * stored; the tenant id is the associated data, so a wrapped key copied to another tenant's row does not
 * unwrap.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KeyManagementServiceClient } from '@google-cloud/kms';

export interface KeyEncryptionKey {
  /** Names the key, stored beside what it wrapped: `local:<fingerprint>` or the KMS CryptoKey's name. */
  readonly name: string;
  wrap(plaintext: Buffer, context: string): Promise<string>;
  unwrap(wrapped: string, context: string): Promise<Buffer>;
}

/** AES-256-GCM under a 32-byte key kept in a file (created on first use when `create` is set). */
export function localKek(file: string, o: { create: boolean }): KeyEncryptionKey {
  if (!existsSync(file)) {
    if (!o.create)
      throw new Error(`the key-encryption key file ${file} does not exist (or set KMS_KEY_NAME)`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} must hold a base64 32-byte key`);
  return aesKek(key);
}

/** AES-256-GCM under a key held in memory (the local key file's, or a test's). */
export function aesKek(key: Buffer): KeyEncryptionKey {
  if (key.length !== 32) throw new Error('a key-encryption key has 32 bytes');
  const name = `local:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
  return {
    name,
    async wrap(plaintext, context) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(Buffer.from(context));
      const ct = Buffer.concat([c.update(plaintext), c.final()]);
      return [iv, ct, c.getAuthTag()].map((b) => b.toString('base64url')).join('.');
    },
    async unwrap(wrapped, context) {
      const [iv, ct, tag] = wrapped.split('.').map((p) => Buffer.from(p, 'base64url'));
      if (!iv || !ct || !tag) throw new Error('wrapped key has an unknown format');
      const d = createDecipheriv('aes-256-gcm', key, iv);
      d.setAAD(Buffer.from(context));
      d.setAuthTag(tag);
      return Buffer.concat([d.update(ct), d.final()]);
    },
  };
}

/** Cloud KMS symmetric encrypt/decrypt with the CryptoKey `keyName` (KMS picks the primary version). */
export function cloudKmsKek(client: KeyManagementServiceClient, keyName: string): KeyEncryptionKey {
  return {
    name: keyName,
    async wrap(plaintext, context) {
      const [res] = await client.encrypt({
        name: keyName,
        plaintext,
        additionalAuthenticatedData: Buffer.from(context),
      });
      if (!res.ciphertext) throw new Error('Cloud KMS returned no ciphertext');
      return Buffer.from(res.ciphertext as Uint8Array).toString('base64');
    },
    async unwrap(wrapped, context) {
      const [res] = await client.decrypt({
        name: keyName,
        ciphertext: Buffer.from(wrapped, 'base64'),
        additionalAuthenticatedData: Buffer.from(context),
      });
      if (!res.plaintext) throw new Error('Cloud KMS returned no plaintext');
      return Buffer.from(res.plaintext as Uint8Array);
    },
  };
}

/**
 * A KMS client over HTTP/1.1 REST (google-gax's fallback): one code path in production and in the tests,
 * which point it at a local fake of the KMS REST surface. Loaded lazily: the gRPC stack is not needed.
 */
export async function createKmsClient(
  options: ConstructorParameters<typeof KeyManagementServiceClient>[0] = {},
): Promise<KeyManagementServiceClient> {
  const { KeyManagementServiceClient: Client } = await import('@google-cloud/kms');
  return new Client({ fallback: true, ...options });
}
