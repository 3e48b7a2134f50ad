import type { ChildProcess } from "node:child_process";
export const ROOT: string;
export function startWranglerDev(opts: {
  config?: string;
  port: number;
  portEnv?: string;
  logFile?: string;
  inspectorPort?: number;
  readyPath?: string;
  env?: Record<string, string>;
  extraArgs?: string[];
  inheritOutput?: boolean;
}): Promise<{ url: string; child: ChildProcess; pgid: number; stop(): Promise<void> }>;
