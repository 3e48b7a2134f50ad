import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startMailCapture } from "../../scripts/stack/mail-capture.ts";
import { startOidcProvider } from "../../scripts/stack/oidc-provider.ts";
import { startPostgres } from "../../scripts/stack/postgres.ts";
import { startPwnedServer } from "../../scripts/stack/pwned-stub.ts";
import { startS3 } from "../../scripts/stack/s3.ts";
import { startStallProxy } from "../../scripts/stack/stall-proxy.ts";
import { startTurnstileStub } from "../../scripts/stack/turnstile-stub.ts";
import { startWebhookReceiver } from "../../scripts/stack/webhook-receiver.ts";
import { rateLimits } from "../../scripts/stack/wrangler-config.ts";
import { startImageLab } from "./image-lab";

declare module "vitest" {
  export interface ProvidedContext {
    dbUrl: string;
    adminDbUrl: string;
    workerBindings: Record<string, string>;
    rateLimits: Record<string, { limit: number; period: number }>;
    /** The local mail capture server (scripts/stack/mail-capture.ts) the Resend SDK sends to. */
    mailUrl: string;
    /** The local S3-compatible server (scripts/stack/s3.ts) and its bucket. */
    s3Endpoint: string;
    s3Bucket: string;
    /** A proxy in front of that S3 server that a test can stall (scripts/stack/stall-proxy.ts). */
    s3StallEndpoint: string;
    s3StallControl: string;
    /** Makes test images and reads stored avatars back, with sharp in Node (image-lab.ts). */
    imageLab: string;
    /** The local Pwned Passwords range API (scripts/stack/pwned-stub.ts) and what it reports. */
    pwnedUrl: string;
    breachedPasswords: string[];
    paddedPasswords: string[];
    /** The local OpenID provider (scripts/stack/oidc-provider.ts) standing in for Google and Apple. */
    oidc: OidcTestSetup;
    /** The local siteverify (scripts/stack/turnstile-stub.ts) and its widget; TURNSTILE_VERIFY_URL points at it. */
    turnstile: { url: string; siteKey: string; secret: string };
    /** A webhook receiver (scripts/stack/webhook-receiver.ts) that verifies every delivery with `standardwebhooks`. */
    webhookReceiver: string;
    /** The seed of the document-driven contract test (test/routes/contract.test.ts): CONTRACT_SEED, default 33. */
    contractSeed: number;
  }
}

export interface OidcTestSetup {
  /** Base URL; the control API is under /_control. */
  url: string;
  google: {
    issuer: string;
    discoveryUrl: string;
    webClientId: string;
    webClientSecret: string;
    iosClientId: string;
    androidClientId: string;
  };
  apple: {
    issuer: string;
    discoveryUrl: string;
    /** The Services ID (web flow) and the app's bundle id (native). */
    servicesId: string;
    bundleId: string;
    teamId: string;
    keyId: string;
    /** The developer key (.p8, PKCS#8 PEM) that signs the client secret. */
    privateKeyPem: string;
  };
  /** The redirect URIs registered for the web clients. */
  redirectUris: { google: string; apple: string };
}

/** Where the tests' redirect flow may return (OAUTH_REDIRECT_ALLOWLIST): a web app and a native app's own scheme. */
const OAUTH_REDIRECTS = ["https://app.test/oauth/done", "https://app.test/oauth/other", "test.auth.app:/oauth/done"];

/** Starts a throwaway PostgreSQL (fresh database every run) and the local service stand-ins. */
export default async function setup(project: TestProject) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "auth-test-pg-"));
  const pg = await startPostgres({ dataDir: path.join(dataDir, "data"), persistent: false, database: "auth_test" });
  // In a child Node process: inside Vite's module runner, postgres.js resolves to its workerd build.
  execFileSync(process.execPath, [path.resolve(__dirname, "../../scripts/ops/migrate.ts"), pg.url], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  process.env.CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE = pg.url;
  project.provide("dbUrl", pg.url);
  project.provide("adminDbUrl", pg.url.replace(/\/auth_test$/, "/postgres"));
  project.provide("rateLimits", rateLimits());
  project.provide("contractSeed", Number.parseInt(process.env.CONTRACT_SEED ?? "33", 10) || 33);
  // Mail goes through the real Resend SDK to a local capture server on a free loopback port.
  const mail = await startMailCapture({ port: 0 });
  project.provide("mailUrl", mail.url);
  // Avatars go to a local s3rver on a free loopback port, objects under the run's temp folder.
  const s3 = await startS3({ port: 0, dir: path.join(dataDir, "s3"), bucket: "avatars-test" });
  project.provide("s3Endpoint", s3.endpoint);
  project.provide("s3Bucket", s3.bucket);
  const stall = await startStallProxy({ targetPort: s3.port });
  project.provide("s3StallEndpoint", stall.endpoint);
  project.provide("s3StallControl", stall.control);
  const lab = await startImageLab();
  project.provide("imageLab", lab.url);
  // Breached passwords come from a local range-API server; padded ones only appear as count-0 padding.
  const breachedPasswords = ["Breached-Password-2024!", "Spécial-Leaked-Pa55"];
  const paddedPasswords = ["Padding-Only-Pa55word"];
  const pwned = await startPwnedServer({ breached: breachedPasswords, padded: paddedPasswords });
  project.provide("pwnedUrl", pwned.url);
  project.provide("breachedPasswords", breachedPasswords);
  project.provide("paddedPasswords", paddedPasswords);
  // Cloudflare Turnstile's siteverify: a local stand-in with one widget. No secret is set for the
  // Worker here (nothing is challenged); the bot-defence tests set one per request.
  const turnstileWidget = { siteKey: "0x4AAAAAAAlocalTestSiteKey", secret: "0x4AAAAAAAlocalTestSecretKey-0123456789" };
  const turnstile = await startTurnstileStub({ widgets: { [turnstileWidget.siteKey]: turnstileWidget.secret } });
  project.provide("turnstile", { url: turnstile.url, ...turnstileWidget });
  // Webhooks go to a local receiver that verifies each delivery as a subscribing service would.
  const receiver = await startWebhookReceiver({ port: 0 });
  project.provide("webhookReceiver", receiver.url);
  // Google and Apple are a local OpenID provider with registered test clients.
  const appleKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const oidcSetup = {
    google: {
      webClientId: "test-web.apps.googleusercontent.test",
      webClientSecret: "test-google-web-secret",
      iosClientId: "test-ios.apps.googleusercontent.test",
      androidClientId: "test-android.apps.googleusercontent.test",
    },
    apple: { servicesId: "test.auth.web", bundleId: "test.auth.app", teamId: "TEAM123456", keyId: "KEY1234567" },
    redirectUris: { google: "http://auth.test/auth/oauth/google/callback", apple: "http://auth.test/auth/oauth/apple/callback" },
  };
  const oidc = await startOidcProvider({
    clients: [
      {
        provider: "google",
        client_id: oidcSetup.google.webClientId,
        client_secret: oidcSetup.google.webClientSecret,
        redirect_uris: [oidcSetup.redirectUris.google],
      },
      {
        provider: "apple",
        client_id: oidcSetup.apple.servicesId,
        redirect_uris: [oidcSetup.redirectUris.apple],
        apple_key: {
          team_id: oidcSetup.apple.teamId,
          key_id: oidcSetup.apple.keyId,
          public_jwk: appleKey.publicKey.export({ format: "jwk" }),
        },
      },
    ],
  });
  project.provide("oidc", {
    url: oidc.url,
    google: { ...oidc.google, ...oidcSetup.google },
    apple: { ...oidc.apple, ...oidcSetup.apple, privateKeyPem: appleKey.privateKey.export({ format: "pem", type: "pkcs8" }) as string },
    redirectUris: oidcSetup.redirectUris,
  });
  project.provide("workerBindings", {
    ENVIRONMENT: "test",
    AUTH_SECRET: "test-secret-0123456789abcdef0123456789abcdef",
    // Fast scrypt parameters keep the suite quick; production defaults are tested in password.test.ts.
    SCRYPT_LOG_N: "10",
    SCRYPT_R: "8",
    SCRYPT_P: "1",
    // Those hashes take ~3 ms, two slices each, so in the suite's bursts (50 requests at once) a
    // hash's wall time is mostly the other requests' work between its slices, and the isolate's
    // estimate of the queue (src/auth/password/hash-admission.ts) would shed requests a 3 ms hash never
    // delays. The suite lets the queue hold them; shedding is tested at the production cost
    // (test/auth/overload.test.ts, HASH_QUEUE_MAX_WAIT=1s).
    HASH_QUEUE_MAX_WAIT: "60s",
    RESEND_BASE_URL: mail.url,
    RESEND_API_KEY: "re_test_key",
    MAIL_FROM: "Edge Auth <no-reply@auth.test>",
    PWNED_PASSWORDS_URL: pwned.url,
    TURNSTILE_VERIFY_URL: turnstile.verifyUrl,
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: "us-east-1",
    S3_BUCKET: s3.bucket,
    S3_ACCESS_KEY_ID: "S3RVER",
    S3_SECRET_ACCESS_KEY: "S3RVER",
    S3_FORCE_PATH_STYLE: "true",
    GOOGLE_DISCOVERY_URL: oidc.google.discoveryUrl,
    APPLE_DISCOVERY_URL: oidc.apple.discoveryUrl,
    // The local provider's registered clients (native ids and the web clients of the redirect flow).
    GOOGLE_CLIENT_IDS: [oidcSetup.google.webClientId, oidcSetup.google.iosClientId, oidcSetup.google.androidClientId].join(","),
    GOOGLE_WEB_CLIENT_ID: oidcSetup.google.webClientId,
    GOOGLE_CLIENT_SECRET: oidcSetup.google.webClientSecret,
    APPLE_CLIENT_IDS: [oidcSetup.apple.bundleId, oidcSetup.apple.servicesId].join(","),
    APPLE_SERVICES_ID: oidcSetup.apple.servicesId,
    APPLE_TEAM_ID: oidcSetup.apple.teamId,
    APPLE_KEY_ID: oidcSetup.apple.keyId,
    APPLE_PRIVATE_KEY: appleKey.privateKey.export({ format: "pem", type: "pkcs8" }) as string,
    OAUTH_REDIRECT_ALLOWLIST: OAUTH_REDIRECTS.join(","),
    // Passkeys: the web app's origin and the Android app's (test/support/passkeys.ts).
    WEBAUTHN_RP_ID: "app.test",
    WEBAUTHN_ORIGINS: "https://app.test,android:apk-key-hash:7bueE1LcZEYLD1yF8C384su_vu0AMpWExf2ULNwCfdk",
    // Small webhook delays (the Queue consumer runs with these settings, test/auth/webhooks/): a
    // retry after 1 s, doubling; given up after 30 s; the endpoint disabled after 2 given up in a row.
    WEBHOOK_TIMEOUT: "5",
    WEBHOOK_RETRY_INITIAL_DELAY: "1",
    WEBHOOK_RETRY_MAX_AGE: "30",
    WEBHOOK_DISABLE_AFTER: "2",
  });
  return async () => {
    await pg.stop();
    await mail.stop();
    await stall.stop();
    await s3.stop();
    await lab.stop();
    await pwned.stop();
    await turnstile.stop();
    await oidc.stop();
    await receiver.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
