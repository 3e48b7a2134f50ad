export interface PwnedServer {
  url: string;
  port: number;
  requests: { path: string; addPadding: boolean }[];
  stop(): Promise<void>;
}
export function startPwnedServer(opts?: { port?: number; host?: string; breached?: string[]; padded?: string[] }): Promise<PwnedServer>;
