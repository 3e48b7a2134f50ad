export { freePort, isAlive, portInUse } from "./local-service.mjs";
export function startPostgres(opts: {
  dataDir: string;
  port?: number;
  persistent?: boolean;
  database?: string;
  quiet?: boolean;
  /** The setting that changes the port, named in the error when the port is taken. */
  portEnv?: string;
  /** Where the server's output goes (default: postgres.log next to dataDir). */
  logFile?: string;
}): Promise<{ url: string; port: number; dataDir: string; stop(): Promise<void> }>;
