/**
 * The offline-issuance signing key: it signs the certificates that let a desk agent issue provisional
 * credentials while the cloud is out of reach. In production a Cloud KMS asymmetric key (Ed25519,
 * `EC_SIGN_ED25519`: KMS signs the data itself; the private key never leaves KMS), named by
 * `OFFLINE_ISSUANCE_SIGNING_KEY` (a CryptoKeyVersion); by default a local key (development, tests).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyManagementServiceClient } from '@google-cloud/kms';

export interface OfflineSigner {
  /** Names the key in what it signs (a key version), so a verifier picks the right public key. */
  readonly keyId: string;
  publicKeyPem(): Promise<string>;
  sign(data: Buffer): Promise<Buffer>;
}

/** The PKCS#8 form of an Ed25519 private key is a fixed prefix and the 32-byte seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A local Ed25519 key: from a PKCS#8 PEM, from a 32-byte seed (every process of a development deployment
 * derives the same key from its shared secret), or a new one.
 */
export function localOfflineSigner(from?: string | Buffer): OfflineSigner {
  const privateKey =
    typeof from === 'string'
      ? createPrivateKey(from)
      : from
        ? createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, from]), format: 'der', type: 'pkcs8' })
        : generateKeyPairSync('ed25519').privateKey;
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the offline-issuance key must be Ed25519');
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return {
    keyId: 'local',
    publicKeyPem: async () => publicPem,
    sign: async (data) => sign(null, data, privateKey),
  };
}

/** Cloud KMS `asymmetricSign` with an Ed25519 CryptoKeyVersion (the data is sent whole: Ed25519 hashes it). */
export function cloudKmsOfflineSigner(
  client: KeyManagementServiceClient,
  versionName: string,
): OfflineSigner {
  let pem: Promise<string> | null = null;
  return {
    keyId: versionName,
    publicKeyPem() {
      pem ??= client.getPublicKey({ name: versionName }).then(([k]) => {
        if (k.algorithm !== 'EC_SIGN_ED25519' || !k.pem)
          throw new Error(`${versionName} is not an Ed25519 signing key (${String(k.algorithm)})`);
        return k.pem;
      });
      return pem;
    },
    async sign(data) {
      const [r] = await client.asymmetricSign({ name: versionName, data });
      if (!r.signature) throw new Error('Cloud KMS returned no signature');
      return Buffer.from(r.signature as Uint8Array);
    },
  };
}
