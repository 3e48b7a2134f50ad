export class ServiceError extends Error {
  constructor(service: string, reason: string, opts?: { hint?: string; logFile?: string; cause?: unknown });
  service: string;
  reason: string;
  hint?: string;
  logFile?: string;
}
export function displayPath(p: string): string;
export function freePort(): Promise<number>;
export function freePorts(n: number): Promise<number[]>;
export function portInUse(port: number): Promise<boolean>;
export function isAlive(pid: number): boolean;
