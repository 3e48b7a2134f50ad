export function freePort(): Promise<number>;
export function portInUse(port: number): Promise<boolean>;
export function startPostgres(opts: {
  dataDir: string;
  port?: number;
  persistent?: boolean;
  database?: string;
  quiet?: boolean;
}): Promise<{ url: string; port: number; pg: unknown; stop(): Promise<void> }>;
