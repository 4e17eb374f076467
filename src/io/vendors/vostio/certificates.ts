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

function certificate(publicPem: string, subjectCn: string, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  // Positive serial: a leading 0 nibble keeps the DER integer non-negative.
  cert.serialNumber = `0${randomBytes(15).toString('hex')}`;
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
