/** Types for scripts/lib/s3.mjs (a local s3rver for dev and tests). */
export interface LocalS3 {
  endpoint: string;
  port: number;
  bucket: string;
  stop(): Promise<void>;
}
export function startS3(options: { port?: number; dir: string; bucket: string; host?: string }): Promise<LocalS3>;
