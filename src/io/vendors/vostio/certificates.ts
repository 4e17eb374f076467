/**
 * X.509 material for the Vostio simulator's mutual TLS: a CA, a server certificate for 127.0.0.1 and
 * localhost, and client certificates. Keys come from node:crypto (fast, native); node-forge only writes
 * and signs the certificates, which Node cannot do itself.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/**
 * A certificate's serial (hex) from 16 random bytes: positive and minimally encoded whatever the bytes, as
 * OpenSSL requires (a first byte of 0x40–0x7f). A leading `0` nibble before the random hex, as before, kept the
 * integer positive but, when the first random byte was 0x00, left a zero byte DER forbids: Node refused that
 * certificate ("illegal padding"), about one simulator start in 200.
 */
export function serialNumberOf(random: Buffer): string {
  const bytes = Buffer.from(random.subarray(0, 16));
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

function certificate(publicPem: string, subjectCn: string, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  cert.serialNumber = serialNumberOf(randomBytes(16));
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: subjectCn }]);
  return cert;
}

export function createCertificateAuthority(cn: string): CertificateAuthority {
  const keys = keyPair();
  const cert = certificate(keys.publicPem, cn, 3650);
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** A certificate signed by `ca`: for a server (127.0.0.1, localhost) or a client (its CN names it). */
export function issueCertificate(
  ca: CertificateAuthority,
  cn: string,
  use: 'server' | 'client',
): IssuedCertificate {
  const keys = keyPair();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = certificate(keys.publicPem, cn, 825);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: use === 'server', clientAuth: use === 'client' },
    ...(use === 'server'
      ? [
          {
            name: 'subjectAltName',
            altNames: [
              { type: 7, ip: '127.0.0.1' },
              { type: 2, value: 'localhost' },
            ],
          },
        ]
      : []),
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}
