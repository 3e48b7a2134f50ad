/** Types for scripts/lib/stall-proxy.mjs (a TCP proxy the tests can stall, in front of s3rver). */
export interface StallProxy {
  /** Where clients connect (use as S3_ENDPOINT). */
  endpoint: string;
  /** HTTP control: POST /stall, POST /resume, GET /state ({ stalled, connections, held }). */
  control: string;
  stop(): Promise<void>;
}
export function startStallProxy(options: { targetPort: number; targetHost?: string; host?: string }): Promise<StallProxy>;
