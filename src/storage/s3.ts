import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { Config } from "../config";
import { type AppError, apiError } from "../errors";
import { type Message, msg } from "../i18n/messages";
import { describeError, log } from "../log";

/**
 * Avatar objects in any S3-compatible store (AWS S3, Cloudflare R2, MinIO, s3rver) through
 * @aws-sdk/client-s3. Keys are unique per upload, so objects are immutable and cached for a year.
 */
export interface AvatarStore {
  /** Throws 503 storage_unavailable (logged) when no bucket and keys are configured: checked before an upload's image work. */
  assertConfigured(): void;
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** One page (up to 1000) of the objects under `prefix`, in key order, after `startAfter`. */
  list(prefix: string, startAfter?: string): Promise<{ objects: StoredObject[]; more: boolean }>;
  /** The public URL of an object: AVATAR_PUBLIC_BASE_URL + key, else its URL at the endpoint. */
  publicUrl(key: string): string;
  /** The key of an object in this bucket from one of its URLs, or null if the URL is elsewhere. */
  keyFromUrl(url: string): string | null;
}

interface StoredObject {
  key: string;
  lastModified: Date;
}

interface S3Settings {
  endpoint: string | undefined;
  region: string;
  bucket: string | undefined;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  forcePathStyle: boolean;
  publicBaseUrl: string | undefined;
  /** Seconds: every call gives up after this long (S3_TIMEOUT). */
  timeout: number;
}

/** The S3 settings, with the Django service's AWS_* names accepted as fallbacks. */
const s3Settings = (c: Config): S3Settings => ({
  endpoint: c.S3_ENDPOINT,
  region: c.S3_REGION ?? c.AWS_S3_REGION_NAME ?? "us-east-1",
  bucket: c.S3_BUCKET ?? c.AWS_STORAGE_BUCKET_NAME,
  accessKeyId: c.S3_ACCESS_KEY_ID ?? c.AWS_ACCESS_KEY_ID,
  secretAccessKey: c.S3_SECRET_ACCESS_KEY ?? c.AWS_SECRET_ACCESS_KEY,
  forcePathStyle: c.S3_FORCE_PATH_STYLE,
  publicBaseUrl: c.AVATAR_PUBLIC_BASE_URL,
  timeout: c.S3_TIMEOUT,
});

const AVATAR_CACHE_CONTROL = "public, max-age=31536000, immutable";

const storageUnavailable = (message?: Message) => apiError("storage_unavailable", { message, retryAfter: 5 });
const storageFailed = () => apiError("storage_error");

/**
 * An error the S3 service answered (it has an HTTP status: 502) versus one where it could not be
 * reached or did not answer within S3_TIMEOUT (503). After a 503 on a write its outcome is unknown.
 */
function toAppError(err: unknown, op: string, key: string): AppError {
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  log("error", `storage ${op} failed`, { object: key, status, ...describeError(err) });
  return status ? storageFailed() : storageUnavailable();
}

const encodeKey = (key: string) => key.split("/").map(encodeURIComponent).join("/");
const withSlash = (base: string) => (base.endsWith("/") ? base : `${base}/`);

/** Where objects of the bucket live at the endpoint (path-style or virtual-hosted). */
function endpointBases(s3: S3Settings & { bucket: string }): string[] {
  const { bucket, region } = s3;
  if (s3.endpoint) {
    const u = new URL(s3.endpoint);
    const path = u.pathname.replace(/\/+$/, "");
    const pathStyle = `${u.origin}${path}/${bucket}/`;
    const hosted = `${u.protocol}//${bucket}.${u.host}${path}/`;
    return s3.forcePathStyle ? [pathStyle, hosted] : [hosted, pathStyle];
  }
  const hosted = [`https://${bucket}.s3.${region}.amazonaws.com/`, `https://${bucket}.s3.amazonaws.com/`];
  const pathStyle = [`https://s3.${region}.amazonaws.com/${bucket}/`, `https://s3.amazonaws.com/${bucket}/`];
  return s3.forcePathStyle ? [...pathStyle, ...hosted] : [...hosted, ...pathStyle];
}

/** One SDK client per isolate and settings: it holds no request state. */
const clients = new Map<string, S3Client>();

function clientFor(s3: S3Settings & { bucket: string; accessKeyId: string; secretAccessKey: string }): S3Client {
  const id = JSON.stringify([s3.endpoint, s3.region, s3.forcePathStyle, s3.accessKeyId, s3.secretAccessKey, s3.timeout]);
  let client = clients.get(id);
  if (!client) {
    client = new S3Client({
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: s3.forcePathStyle,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      // Streams and flexible checksums misbehave in workerd; bodies are bytes with a known length.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      // One retry, both inside S3_TIMEOUT: each call also carries an abort signal with that deadline.
      maxAttempts: 2,
      requestHandler: { requestTimeout: s3.timeout * 1000 },
    });
    if (clients.size > 16) clients.clear();
    clients.set(id, client);
  }
  return client;
}

/** Without a bucket and keys, every write answers 503 (name-only profile updates still work). */
function unconfiguredStore(): AvatarStore {
  const fail = (): never => {
    log("error", "avatar storage is not configured: set S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY");
    throw storageUnavailable(msg("error.storage_unavailable.off"));
  };
  return {
    assertConfigured: fail,
    put: async () => fail(),
    delete: async () => fail(),
    // Nothing stored, nothing to sweep: the hourly purge stays quiet.
    list: async () => ({ objects: [], more: false }),
    publicUrl: fail,
    keyFromUrl: () => null,
  };
}

/** The store for these settings. Building it does no I/O. */
export function createAvatarStore(config: Config): AvatarStore {
  const s3 = s3Settings(config);
  const { bucket, accessKeyId, secretAccessKey } = s3;
  if (!bucket || !accessKeyId || !secretAccessKey) return unconfiguredStore();
  const settings = { ...s3, bucket, accessKeyId, secretAccessKey };
  const client = clientFor(settings);
  const bases = endpointBases(settings);
  const publicBase = s3.publicBaseUrl ? withSlash(s3.publicBaseUrl) : bases[0];
  const known = s3.publicBaseUrl ? [publicBase, ...bases] : bases;
  // The SDK's own timeouts do not cover everything (connecting, a stalled body): every call is
  // bounded by an abort signal as well.
  const bounded = () => ({ abortSignal: AbortSignal.timeout(s3.timeout * 1000) });

  return {
    assertConfigured() {},
    async put(key, bytes, contentType) {
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: bytes,
            ContentLength: bytes.byteLength,
            ContentType: contentType,
            CacheControl: AVATAR_CACHE_CONTROL,
          }),
          bounded(),
        );
      } catch (err) {
        throw toAppError(err, "put", key);
      }
    },
    async delete(key) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), bounded());
      } catch (err) {
        throw toAppError(err, "delete", key);
      }
    },
    async list(prefix, startAfter) {
      try {
        const res = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, StartAfter: startAfter, MaxKeys: 1000 }),
          bounded(),
        );
        const objects = (res.Contents ?? []).flatMap((o) =>
          o.Key && o.LastModified ? [{ key: o.Key, lastModified: o.LastModified }] : [],
        );
        return { objects, more: Boolean(res.IsTruncated) && objects.length > 0 };
      } catch (err) {
        throw toAppError(err, "list", prefix);
      }
    },
    publicUrl: (key) => publicBase + encodeKey(key),
    keyFromUrl(url) {
      const base = known.find((b) => url.startsWith(b));
      if (!base) return null;
      const rest = url.slice(base.length).split(/[?#]/)[0];
      try {
        const key = rest.split("/").map(decodeURIComponent).join("/");
        return key ? key : null;
      } catch {
        return null;
      }
    },
  };
}
