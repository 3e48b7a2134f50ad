/**
 * ASN.1 as @simplewebauthn/server needs it here: the one structure a passkey's signature check
 * reads (ECDSA-Sig-Value, the DER `SEQUENCE { r INTEGER, s INTEGER }` of an ES256 signature), and
 * nothing of certificate attestation. Aliased in wrangler.toml and vitest.config.ts for
 * `@peculiar/asn1-schema`, `@peculiar/asn1-ecc`, `@peculiar/x509` (with tsyringe and the
 * reflect-metadata polyfill it pulls in), `@peculiar/asn1-x509`, `@peculiar/asn1-android`,
 * `@peculiar/asn1-rsa`, `@peculiar/asn1-x509-post-quantum` and `reflect-metadata`.
 *
 * Why: verifyRegistrationResponse imports every attestation verifier statically (packed, TPM,
 * Android, Apple, FIDO U2F, with X.509 chains and CRLs), but this API registers passkeys with
 * attestation `none` (src/auth/passkeys/ceremonies.ts), which reads no certificate; and the
 * general ASN.1 codec (asn1js) was only there to take two integers out of a signature. Together
 * ~280 KiB of the Worker (~67 KiB gzip), and ~20 ms of startup registering decorated classes.
 * (The verifiers themselves and their root certificates: src/shims/webauthn-attestation.ts.)
 *
 * Every certificate class throws when constructed and AsnParser refuses every other type, so an
 * attestation that does carry certificates is refused loudly, never passed unchecked. The object
 * identifiers are the real strings. test/node/webauthn-shim.test.ts checks the names against what
 * the library imports and the parser against the real one.
 */

const NOT_BUNDLED = 'is not bundled: this Worker verifies passkey signatures, not attestation certificates (attestation "none" only)';

const unavailable = (name: string) =>
  class {
    constructor() {
      throw new Error(`${name} ${NOT_BUNDLED}`);
    }
  };

/** ECDSA-Sig-Value (RFC 3279): r and s as the INTEGERs' content bytes, as @peculiar/asn1-ecc gives them. */
export class ECDSASigValue {
  r = new ArrayBuffer(0);
  s = new ArrayBuffer(0);
}

/** One DER element at `at`: its tag, where its content starts and ends. Definite lengths only. */
function element(der: Uint8Array, at: number, end: number): { tag: number; start: number; next: number } {
  if (at + 2 > end) throw new Error("DER: truncated");
  const tag = der[at];
  let len = der[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 2 || start + n > end) throw new Error("DER: unsupported length");
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | der[start + i];
    start += n;
  }
  const next = start + len;
  if (next > end) throw new Error("DER: truncated");
  return { tag, start, next };
}

export const AsnParser = {
  parse(data: BufferSource, type: unknown): ECDSASigValue {
    if (type !== ECDSASigValue) throw new Error(`AsnParser for this type ${NOT_BUNDLED}`);
    const der = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
    const seq = element(der, 0, der.length);
    if (seq.tag !== 0x30 || seq.next !== der.length) throw new Error("DER: not one SEQUENCE");
    const r = element(der, seq.start, seq.next);
    const s = element(der, r.next, seq.next);
    if (r.tag !== 0x02 || s.tag !== 0x02 || s.next !== seq.next || r.start === r.next || s.start === s.next)
      throw new Error("DER: not SEQUENCE { INTEGER, INTEGER }");
    const value = new ECDSASigValue();
    value.r = der.slice(r.start, r.next).buffer;
    value.s = der.slice(s.start, s.next).buffer;
    return value;
  },
};

// @peculiar/asn1-schema
export const OctetString = unavailable("OctetString");

// @peculiar/asn1-ecc
export const ECParameters = unavailable("ECParameters");
export const id_ecPublicKey = "1.2.840.10045.2.1";
export const id_secp256r1 = "1.2.840.10045.3.1.7";
export const id_secp384r1 = "1.3.132.0.34";
export const id_ecdsaWithSHA256 = "1.2.840.10045.4.3.2";
export const id_ecdsaWithSHA384 = "1.2.840.10045.4.3.3";
export const id_ecdsaWithSHA512 = "1.2.840.10045.4.3.4";

// @peculiar/x509
export const X509Certificate = unavailable("X509Certificate");
export const X509ChainBuilder = unavailable("X509ChainBuilder");
export const X509Crl = unavailable("X509Crl");
export const AuthorityKeyIdentifierExtension = unavailable("AuthorityKeyIdentifierExtension");
export const CRLDistributionPointsExtension = unavailable("CRLDistributionPointsExtension");
export const SubjectKeyIdentifierExtension = unavailable("SubjectKeyIdentifierExtension");

// @peculiar/asn1-x509
export const Certificate = unavailable("Certificate");
export const BasicConstraints = unavailable("BasicConstraints");
export const ExtendedKeyUsage = unavailable("ExtendedKeyUsage");
export const SubjectAlternativeName = unavailable("SubjectAlternativeName");
export const id_ce_basicConstraints = "2.5.29.19";
export const id_ce_extKeyUsage = "2.5.29.37";
export const id_ce_subjectAltName = "2.5.29.17";

// @peculiar/asn1-android
export const KeyDescription = unavailable("KeyDescription");
export const id_ce_keyDescription = "1.3.6.1.4.1.11129.2.1.17";

// @peculiar/asn1-rsa
export const RSAPublicKey = unavailable("RSAPublicKey");
export const id_rsaEncryption = "1.2.840.113549.1.1.1";
export const id_sha1WithRSAEncryption = "1.2.840.113549.1.1.5";
export const id_sha256WithRSAEncryption = "1.2.840.113549.1.1.11";
export const id_sha384WithRSAEncryption = "1.2.840.113549.1.1.12";
export const id_sha512WithRSAEncryption = "1.2.840.113549.1.1.13";

// @peculiar/asn1-x509-post-quantum
export const id_ml_dsa_44 = "2.16.840.1.101.3.4.3.17";
export const id_ml_dsa_65 = "2.16.840.1.101.3.4.3.18";
export const id_ml_dsa_87 = "2.16.840.1.101.3.4.3.19";
