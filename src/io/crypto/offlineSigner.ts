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

/** A local Ed25519 key (PKCS#8 PEM), or a new one. */
export function localOfflineSigner(pem?: string): OfflineSigner {
  const privateKey = pem ? createPrivateKey(pem) : generateKeyPairSync('ed25519').privateKey;
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
