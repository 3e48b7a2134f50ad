/**
 * @simplewebauthn/server's attestation statement verifiers and the root certificates they trust,
 * as this Worker needs them: not at all. Passkeys are registered with attestation `none`
 * (src/auth/passkeys/ceremonies.ts), whose check reads no statement and no certificate, but
 * verifyRegistrationResponse imports the verifier of every format (packed, TPM, Android key,
 * SafetyNet, Apple, FIDO U2F) and SettingsService loads Google's, Apple's and GlobalSign's root
 * certificates at startup. Aliased by their import paths inside the library (wrangler.toml
 * [alias], read by vitest.config.ts too), which keeps ~14 KiB (gzip) out of the Worker.
 *
 * A response in any other format is refused loudly (the verifier throws: `passkey_invalid`), never
 * passed unchecked; the certificates are placeholders no certificate check could use (one would
 * need src/shims/webauthn-asn1.ts's X.509 classes, which throw too). test/node/webauthn-shim.test.ts
 * checks that these paths still exist in the library, are imported only by it, and that every name
 * it imports is here.
 */

const refuse = (format: string) => (): never => {
  throw new Error(`the ${format} attestation format is not bundled: this Worker registers passkeys with attestation "none" only`);
};

// registration/verifications/
export const verifyAttestationFIDOU2F = refuse("fido-u2f");
export const verifyAttestationPacked = refuse("packed");
export const verifyAttestationAndroidSafetyNet = refuse("android-safetynet");
export const verifyAttestationTPM = refuse("tpm");
export const verifyAttestationAndroidKey = refuse("android-key");
export const verifyAttestationApple = refuse("apple");

// services/defaultRootCerts/
const NO_CERTIFICATE = "(root certificate not bundled)";
export const GlobalSign_Root_CA = NO_CERTIFICATE;
export const Google_Android_Key_Attestation_CA1 = NO_CERTIFICATE;
export const Google_Hardware_Attestation_Root_2 = NO_CERTIFICATE;
export const Google_Hardware_Attestation_Root_3 = NO_CERTIFICATE;
export const Google_Hardware_Attestation_Root_4 = NO_CERTIFICATE;
export const Apple_WebAuthn_Root_CA = NO_CERTIFICATE;
export const GlobalSign_Root_CA_R3 = NO_CERTIFICATE;
export const GlobalSign_Root_R46 = NO_CERTIFICATE;
