/**
 * A software WebAuthn authenticator + client for tests.
 *
 * Pure Web Crypto (`crypto.subtle`, `crypto.getRandomValues`, `TextEncoder`): no Node-only API, no
 * dependency, so it runs unchanged inside workerd (the Workers runtime) and in Node 22. It plays
 * both roles a browser test needs: the authenticator (keys, authenticator data, signatures, sign
 * counter) and the client (clientDataJSON, the WebAuthn Level 3 JSON serialisation that
 * `PublicKeyCredential.toJSON()` produces). It is deliberately independent of the server library
 * under test: its own CBOR encoder, DER encoder and base64url code.
 *
 *   const authr = new SoftwareAuthenticator({ origin: "https://example.com" });
 *   const reg = await authr.register(creationOptionsJSON);          // RegistrationResponseJSON
 *   const auth = await authr.authenticate(requestOptionsJSON);      // AuthenticationResponseJSON
 *
 * Every field a server checks can be bent per call (see RegisterOverrides / AuthenticateOverrides):
 * origin, the RP ID hashed into authenticator data, the challenge signed, UP/UV/BE/BS flags, the
 * sign counter, crossOrigin/topOrigin, transports, the user handle, the credential used, and the
 * signature itself.
 *
 * It imports nothing of this repository either: the checks it makes possible are only worth
 * something if it shares no code with what it checks.
 *
 * Algorithms: ES256 (COSE -7, P-256, signature DER-encoded as WebAuthn requires), EdDSA (COSE -8,
 * Ed25519, raw 64-byte signature) and RS256 (COSE -257, RSASSA-PKCS1-v1_5 2048, raw signature).
 * Attestation is always `fmt: "none"` with an empty `attStmt`.
 */

// ---------------------------------------------------------------------------------------------
// WebAuthn Level 3 JSON shapes (structurally identical to the DOM / @simplewebauthn/types ones)
// ---------------------------------------------------------------------------------------------

export type Base64URLString = string;
type AuthenticatorTransport = "ble" | "cable" | "hybrid" | "internal" | "nfc" | "smart-card" | "usb";

export interface PublicKeyCredentialCreationOptionsJSON {
  rp: { id?: string; name: string };
  user: { id: Base64URLString; name: string; displayName: string };
  challenge: Base64URLString;
  pubKeyCredParams: { type?: string; alg: number }[];
  timeout?: number;
  excludeCredentials?: { id: Base64URLString; type?: string; transports?: string[] }[];
  authenticatorSelection?: {
    authenticatorAttachment?: string;
    residentKey?: string;
    requireResidentKey?: boolean;
    userVerification?: string;
  };
  attestation?: string;
  hints?: string[];
  extensions?: { credProps?: boolean };
}

export interface PublicKeyCredentialRequestOptionsJSON {
  challenge: Base64URLString;
  timeout?: number;
  rpId?: string;
  allowCredentials?: { id: Base64URLString; type?: string; transports?: string[] }[];
  userVerification?: string;
  hints?: string[];
  extensions?: { credProps?: boolean };
}

export interface RegistrationResponseJSON {
  id: Base64URLString;
  rawId: Base64URLString;
  response: {
    clientDataJSON: Base64URLString;
    attestationObject: Base64URLString;
    authenticatorData: Base64URLString;
    transports: AuthenticatorTransport[];
    publicKeyAlgorithm: number;
    publicKey?: Base64URLString; // SubjectPublicKeyInfo (DER), as browsers give it
  };
  authenticatorAttachment: "platform" | "cross-platform";
  clientExtensionResults: Record<string, unknown>;
  type: "public-key";
}

export interface AuthenticationResponseJSON {
  id: Base64URLString;
  rawId: Base64URLString;
  response: {
    clientDataJSON: Base64URLString;
    authenticatorData: Base64URLString;
    signature: Base64URLString;
    userHandle?: Base64URLString;
  };
  authenticatorAttachment: "platform" | "cross-platform";
  clientExtensionResults: Record<string, unknown>;
  type: "public-key";
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

type Alg = "ES256" | "EdDSA" | "RS256";
const COSE_ALG: Record<Alg, number> = { ES256: -7, EdDSA: -8, RS256: -257 };

/** Overrides shared by both ceremonies. Everything defaults to what an honest browser would send. */
interface CommonOverrides {
  /** clientDataJSON.origin. Default: the authenticator's `origin`. */
  origin?: string;
  /** The RP ID whose SHA-256 goes into authenticator data. Default: the options' RP ID (or the origin's host). */
  rpId?: string;
  /** The challenge written into clientDataJSON (base64url). Default: the options' challenge. */
  challenge?: Base64URLString;
  /** clientDataJSON.type. Default "webauthn.create" / "webauthn.get". */
  type?: string;
  /** clientDataJSON.crossOrigin. Default false. */
  crossOrigin?: boolean;
  /** clientDataJSON.topOrigin (only written when set). */
  topOrigin?: string;
  /** UP flag. Default true. */
  userPresent?: boolean;
  /** UV flag. Default: the authenticator's `userVerification` setting (true unless constructed otherwise). */
  userVerified?: boolean;
  /** BE flag. Default: the credential's (set at registration, default true: a synced passkey). */
  backupEligible?: boolean;
  /** BS flag. Default: the credential's (default true). */
  backupState?: boolean;
  /** The exact sign counter to report (and remember). Default: see `counting`. */
  signCount?: number;
  /** `response.authenticatorAttachment`. Default: the authenticator's. */
  authenticatorAttachment?: "platform" | "cross-platform";
}

export interface RegisterOverrides extends CommonOverrides {
  /** Key algorithm. Default: the first entry of pubKeyCredParams this authenticator supports. */
  alg?: Alg;
  /** Credential id length in bytes (random). Default 32. Or give the id itself. */
  credentialIdLength?: number;
  credentialId?: Uint8Array;
  /** AAGUID (16 bytes or "xxxxxxxx-xxxx-..." string). Default: the authenticator's. */
  aaguid?: Uint8Array | string;
  /** `response.transports`. Default: the authenticator's. */
  transports?: AuthenticatorTransport[];
  /** Whether later assertions increment the counter (true, a counting authenticator) or always send 0 (synced passkeys). Default: the authenticator's. */
  counting?: boolean;
  /** Register even if one of this authenticator's credentials is in excludeCredentials (a real one refuses with InvalidStateError). */
  ignoreExcludeCredentials?: boolean;
  /** Leave out the AT flag (malformed response). */
  omitAttestedCredentialDataFlag?: boolean;
  /** Attestation statement format written; default "none" (anything else is for negative tests). */
  fmt?: string;
}

export interface AuthenticateOverrides extends CommonOverrides {
  /** Use this credential (by id, base64url) even if allowCredentials / rpId would not select it. */
  credentialId?: Base64URLString;
  /** `response.userHandle`: a base64url string, or null to leave it out. Default: the credential's user handle. */
  userHandle?: Base64URLString | null;
  /** Replace the signature with these bytes (base64url) or corrupt the real one by flipping a bit. */
  signature?: Base64URLString | "corrupt";
}

export interface SoftwareAuthenticatorOptions {
  /** The page origin the client runs on, e.g. "http://localhost:8787". */
  origin: string;
  /** AAGUID of this authenticator model. Default: all zeros (what "none" attestation usually carries). */
  aaguid?: Uint8Array | string;
  /** UV capability: set the UV flag on every ceremony unless overridden. Default true. */
  userVerification?: boolean;
  /** Default backup flags for new credentials. Default true/true (a synced passkey). */
  backupEligible?: boolean;
  backupState?: boolean;
  /** Counter behaviour for new credentials. Default true (increments per assertion). */
  counting?: boolean;
  transports?: AuthenticatorTransport[];
  authenticatorAttachment?: "platform" | "cross-platform";
}

/** A credential held by the authenticator (a discoverable credential / passkey). */
export interface SoftwareCredential {
  id: Uint8Array;
  idB64: Base64URLString;
  alg: Alg;
  rpId: string;
  userHandle: Uint8Array;
  userName: string;
  privateKey: Key;
  publicKey: Key;
  /** COSE_Key (CBOR) as embedded in the attested credential data. */
  cosePublicKey: Uint8Array;
  signCount: number;
  counting: boolean;
  backupEligible: boolean;
  backupState: boolean;
  transports: AuthenticatorTransport[];
}

// ---------------------------------------------------------------------------------------------
// The authenticator
// ---------------------------------------------------------------------------------------------

export class SoftwareAuthenticator {
  readonly credentials: SoftwareCredential[] = [];
  readonly settings: Required<Omit<SoftwareAuthenticatorOptions, "aaguid">> & { aaguid: Uint8Array };

  constructor(options: SoftwareAuthenticatorOptions) {
    this.settings = {
      origin: options.origin,
      aaguid: toAaguid(options.aaguid),
      userVerification: options.userVerification ?? true,
      backupEligible: options.backupEligible ?? true,
      backupState: options.backupState ?? true,
      counting: options.counting ?? true,
      transports: options.transports ?? ["internal", "hybrid"],
      authenticatorAttachment: options.authenticatorAttachment ?? "platform",
    };
  }

  /** navigator.credentials.create() + credential.toJSON(). */
  async register(
    options: PublicKeyCredentialCreationOptionsJSON,
    o: RegisterOverrides = {},
  ): Promise<RegistrationResponseJSON & { credential: SoftwareCredential }> {
    const origin = o.origin ?? this.settings.origin;
    const optionsRpId = options.rp.id ?? new URL(this.settings.origin).hostname;
    const rpId = o.rpId ?? optionsRpId;

    if (!o.ignoreExcludeCredentials) {
      const excluded = new Set((options.excludeCredentials ?? []).map((c) => c.id));
      if (this.credentials.some((c) => c.rpId === optionsRpId && excluded.has(c.idB64))) {
        throw domError("InvalidStateError", "The authenticator already holds an excluded credential");
      }
    }

    const alg = o.alg ?? pickAlg(options.pubKeyCredParams);
    const keys = await generateKeyPair(alg);
    const cosePublicKey = await coseKey(alg, keys.publicKey);
    const id = o.credentialId ?? randomBytes(o.credentialIdLength ?? 32);
    const credential: SoftwareCredential = {
      id,
      idB64: b64url(id),
      alg,
      rpId: optionsRpId,
      userHandle: fromB64url(options.user.id),
      userName: options.user.name,
      privateKey: keys.privateKey,
      publicKey: keys.publicKey,
      cosePublicKey,
      signCount: o.signCount ?? 0,
      counting: o.counting ?? this.settings.counting,
      backupEligible: o.backupEligible ?? this.settings.backupEligible,
      backupState: o.backupState ?? this.settings.backupState,
      transports: o.transports ?? this.settings.transports,
    };

    const aaguid = o.aaguid === undefined ? this.settings.aaguid : toAaguid(o.aaguid);
    const attestedCredentialData = concat(aaguid, u16(id.length), id, cosePublicKey);
    const authData = concat(
      await sha256(utf8(rpId)),
      Uint8Array.of(
        flagsByte({
          up: o.userPresent ?? true,
          uv: o.userVerified ?? this.settings.userVerification,
          be: credential.backupEligible,
          bs: credential.backupState,
          at: !o.omitAttestedCredentialDataFlag,
        }),
      ),
      u32(credential.signCount),
      attestedCredentialData,
    );
    const clientDataJSON = clientData(o.type ?? "webauthn.create", o.challenge ?? options.challenge, origin, o);
    const attestationObject = cbor(
      new Map<string, CborValue>([
        ["fmt", o.fmt ?? "none"],
        ["attStmt", new Map()],
        ["authData", authData],
      ]),
    );

    this.credentials.push(credential);
    const clientExtensionResults: Record<string, unknown> = {};
    if (options.extensions?.credProps) clientExtensionResults.credProps = { rk: true };
    return {
      id: credential.idB64,
      rawId: credential.idB64,
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(attestationObject),
        authenticatorData: b64url(authData),
        transports: credential.transports,
        publicKeyAlgorithm: COSE_ALG[alg],
        publicKey: b64url(new Uint8Array((await crypto.subtle.exportKey("spki", keys.publicKey)) as ArrayBuffer)),
      },
      authenticatorAttachment: o.authenticatorAttachment ?? this.settings.authenticatorAttachment,
      clientExtensionResults,
      type: "public-key",
      credential,
    };
  }

  /** navigator.credentials.get() + credential.toJSON(). */
  async authenticate(options: PublicKeyCredentialRequestOptionsJSON, o: AuthenticateOverrides = {}): Promise<AuthenticationResponseJSON> {
    const origin = o.origin ?? this.settings.origin;
    const optionsRpId = options.rpId ?? new URL(this.settings.origin).hostname;
    const credential = this.select(optionsRpId, options.allowCredentials ?? [], o.credentialId);
    const rpId = o.rpId ?? optionsRpId;

    if (o.backupEligible !== undefined) credential.backupEligible = o.backupEligible;
    if (o.backupState !== undefined) credential.backupState = o.backupState;
    if (o.signCount !== undefined) credential.signCount = o.signCount;
    else credential.signCount = credential.counting ? credential.signCount + 1 : 0;

    const authData = concat(
      await sha256(utf8(rpId)),
      Uint8Array.of(
        flagsByte({
          up: o.userPresent ?? true,
          uv: o.userVerified ?? this.settings.userVerification,
          be: credential.backupEligible,
          bs: credential.backupState,
          at: false,
        }),
      ),
      u32(credential.signCount),
    );
    const clientDataJSON = clientData(o.type ?? "webauthn.get", o.challenge ?? options.challenge, origin, o);
    let signature = await sign(credential, concat(authData, await sha256(clientDataJSON)));
    if (o.signature === "corrupt") signature[signature.length - 5] ^= 0x01;
    else if (o.signature !== undefined) signature = fromB64url(o.signature);

    const userHandle = o.userHandle === undefined ? b64url(credential.userHandle) : o.userHandle;
    return {
      id: credential.idB64,
      rawId: credential.idB64,
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(userHandle === null ? {} : { userHandle }),
      },
      authenticatorAttachment: o.authenticatorAttachment ?? this.settings.authenticatorAttachment,
      clientExtensionResults: {},
      type: "public-key",
    };
  }

  /** Forget a credential (the user deleted the passkey on the device). */
  remove(credentialId: Base64URLString): void {
    const i = this.credentials.findIndex((c) => c.idB64 === credentialId);
    if (i >= 0) this.credentials.splice(i, 1);
  }

  private select(rpId: string, allow: { id: Base64URLString }[], forced?: Base64URLString): SoftwareCredential {
    if (forced) {
      const c = this.credentials.find((c) => c.idB64 === forced);
      if (!c) throw domError("NotAllowedError", `No credential ${forced} on this authenticator`);
      return c;
    }
    const allowed = new Set(allow.map((c) => c.id));
    // Most recent first, like a platform authenticator's account picker with one tap.
    const c = [...this.credentials].reverse().find((c) => c.rpId === rpId && (allowed.size === 0 || allowed.has(c.idB64)));
    if (!c) throw domError("NotAllowedError", `No credential for RP ID ${rpId}`);
    return c;
  }
}

// ---------------------------------------------------------------------------------------------
// Keys and signatures
// ---------------------------------------------------------------------------------------------

const SUPPORTED: Alg[] = ["EdDSA", "ES256", "RS256"];

function pickAlg(params: { alg: number }[]): Alg {
  for (const p of params) {
    const alg = SUPPORTED.find((a) => COSE_ALG[a] === p.alg);
    if (alg) return alg;
  }
  throw domError("NotSupportedError", "No supported algorithm in pubKeyCredParams");
}

/** Web Crypto's key types, named from `crypto.subtle` itself: the Workers and Node type libraries spell them differently. */
type Key = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
interface KeyPair {
  privateKey: Key;
  publicKey: Key;
}

async function generateKeyPair(alg: Alg): Promise<KeyPair> {
  const params =
    alg === "ES256"
      ? { name: "ECDSA", namedCurve: "P-256" }
      : alg === "EdDSA"
        ? { name: "Ed25519" }
        : {
            name: "RSASSA-PKCS1-v1_5",
            modulusLength: 2048,
            publicExponent: new Uint8Array([1, 0, 1]),
            hash: "SHA-256",
          };
  return (await crypto.subtle.generateKey(params, true, ["sign", "verify"])) as unknown as KeyPair;
}

/** The credential public key as a COSE_Key map, CBOR-encoded in CTAP2 canonical order. */
async function coseKey(alg: Alg, publicKey: Key): Promise<Uint8Array> {
  const jwk = (await crypto.subtle.exportKey("jwk", publicKey)) as { x?: string; y?: string; n?: string; e?: string };
  const m = new Map<number, CborValue>();
  if (alg === "ES256") {
    m.set(1, 2).set(3, -7).set(-1, 1).set(-2, fromB64url(jwk.x!)).set(-3, fromB64url(jwk.y!)); // kty EC2, crv P-256
  } else if (alg === "EdDSA") {
    m.set(1, 1).set(3, -8).set(-1, 6).set(-2, fromB64url(jwk.x!)); // kty OKP, crv Ed25519
  } else {
    m.set(1, 3).set(3, -257).set(-1, fromB64url(jwk.n!)).set(-2, fromB64url(jwk.e!)); // kty RSA
  }
  return cbor(m);
}

async function sign(c: SoftwareCredential, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  if (c.alg === "ES256") {
    const raw = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, c.privateKey, data));
    return derEcdsaSignature(raw); // WebAuthn: ES256 signatures are ASN.1 DER Ecdsa-Sig-Value
  }
  const name = c.alg === "EdDSA" ? "Ed25519" : "RSASSA-PKCS1-v1_5";
  return new Uint8Array(await crypto.subtle.sign({ name }, c.privateKey, data));
}

/** Web Crypto's r||s → DER SEQUENCE { INTEGER r, INTEGER s } (minimal, positive integers). */
function derEcdsaSignature(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  const int = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b.subarray(i);
    const body = v[0] & 0x80 ? concat(Uint8Array.of(0), v) : v;
    return concat(Uint8Array.of(0x02, body.length), body);
  };
  const seq = concat(int(raw.subarray(0, half)), int(raw.subarray(half)));
  return concat(Uint8Array.of(0x30, seq.length), seq);
}

// ---------------------------------------------------------------------------------------------
// Client data, authenticator data
// ---------------------------------------------------------------------------------------------

function clientData(type: string, challenge: string, origin: string, o: CommonOverrides): Uint8Array<ArrayBuffer> {
  // Member order as Chromium writes it: type, challenge, origin, crossOrigin[, topOrigin].
  const c: Record<string, unknown> = { type, challenge, origin, crossOrigin: o.crossOrigin ?? false };
  if (o.topOrigin !== undefined) c.topOrigin = o.topOrigin;
  return utf8(JSON.stringify(c));
}

function flagsByte(f: { up: boolean; uv: boolean; be: boolean; bs: boolean; at: boolean }): number {
  return (f.up ? 0x01 : 0) | (f.uv ? 0x04 : 0) | (f.be ? 0x08 : 0) | (f.bs ? 0x10 : 0) | (f.at ? 0x40 : 0);
}

// ---------------------------------------------------------------------------------------------
// Tiny CBOR encoder (RFC 8949): unsigned/negative integers, byte strings, text strings, maps,
// arrays. Definite lengths only; map entries are written in insertion order (callers insert in
// CTAP2 canonical order).
// ---------------------------------------------------------------------------------------------

type CborValue = number | string | Uint8Array | CborValue[] | Map<number | string, CborValue>;

function cbor(v: CborValue): Uint8Array {
  const out: number[] = [];
  const head = (major: number, n: number) => {
    if (n < 24) out.push((major << 5) | n);
    else if (n < 0x100) out.push((major << 5) | 24, n);
    else if (n < 0x10000) out.push((major << 5) | 25, n >> 8, n & 0xff);
    else if (n < 0x100000000) out.push((major << 5) | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
    else throw new RangeError("CBOR: length/int too large for this encoder");
  };
  const enc = (x: CborValue): void => {
    if (typeof x === "number") {
      if (!Number.isInteger(x)) throw new TypeError("CBOR: only integers");
      if (x >= 0) head(0, x);
      else head(1, -1 - x);
    } else if (typeof x === "string") {
      const b = utf8(x);
      head(3, b.length);
      for (const byte of b) out.push(byte);
    } else if (x instanceof Uint8Array) {
      head(2, x.length);
      for (const byte of x) out.push(byte);
    } else if (Array.isArray(x)) {
      head(4, x.length);
      for (const item of x) enc(item);
    } else {
      head(5, x.size);
      for (const [k, val] of x) {
        enc(k);
        enc(val);
      }
    }
  };
  enc(v);
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------------------------

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

export function b64url(bytes: Uint8Array): Base64URLString {
  let s = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    if (i + 1 < bytes.length) s += B64[(n >> 6) & 63];
    if (i + 2 < bytes.length) s += B64[n & 63];
  }
  return s;
}

export function fromB64url(s: Base64URLString): Uint8Array<ArrayBuffer> {
  const clean = s.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let j = 0;
  for (const ch of clean) {
    const v = B64.indexOf(ch);
    if (v < 0) throw new TypeError(`Not base64url: ${s}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const utf8 = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s) as Uint8Array<ArrayBuffer>;
const u16 = (n: number) => Uint8Array.of(n >> 8, n & 0xff);
const u32 = (n: number) => Uint8Array.of((n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
const sha256 = async (b: Uint8Array<ArrayBuffer>) => new Uint8Array(await crypto.subtle.digest("SHA-256", b));

function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(n));
}

function toAaguid(a: Uint8Array | string | undefined): Uint8Array {
  if (a === undefined) return new Uint8Array(16);
  if (typeof a !== "string") {
    if (a.length !== 16) throw new RangeError("AAGUID must be 16 bytes");
    return a;
  }
  const hex = a.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`Bad AAGUID ${a}`);
  return Uint8Array.from({ length: 16 }, (_, i) => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16));
}

function domError(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name; // the DOMException name a browser would reject with
  return e;
}
