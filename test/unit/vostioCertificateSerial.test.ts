/**
 * The Vostio simulator's certificate serials are DER integers OpenSSL accepts whatever the random bytes: one in
 * about 200 simulator starts failed with "illegal padding" when the serial began with a zero byte.
 */
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { serialNumberOf } from '../../src/io/vendors/vostio/certificates.ts';

/** The serial's DER content octets, as node-forge writes them into the certificate. */
const derContent = (hex: string) =>
  Buffer.from(
    forge.asn1
      .toDer(
        forge.asn1.create(
          forge.asn1.Class.UNIVERSAL,
          forge.asn1.Type.INTEGER,
          false,
          forge.util.hexToBytes(hex),
        ),
      )
      .getBytes(),
    'binary',
  ).subarray(2);

describe('vostio certificate serials', () => {
  it('are positive and minimally encoded, whatever the random bytes begin with', () => {
    for (const first of [[0x00, 0x00], [0x00, 0x42], [0x00, 0x80], [0x7f], [0x80], [0xff, 0xff]]) {
      const random = Buffer.alloc(16, 0xa5);
      Buffer.from(first).copy(random);
      const content = derContent(serialNumberOf(random));
      expect(content.length, first.join(',')).toBe(16);
      // Not negative (top bit clear) and no zero byte in front of a byte that does not need it.
      expect(content[0]! & 0x80).toBe(0);
      expect(content[0]).not.toBe(0);
    }
  });
});
