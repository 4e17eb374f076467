export { createCertificateAuthority, issueCertificate } from './certificates.ts';
export { createVostioAdapter, type VostioConfig } from './adapter.ts';
export {
  startVostioSimulator,
  VOSTIO_SIM_CLIENT_CN,
  VOSTIO_SIM_DEFAULTS,
  vostioClientTls,
  type VostioClientTls,
  type VostioSimulator,
} from './simulator.ts';
