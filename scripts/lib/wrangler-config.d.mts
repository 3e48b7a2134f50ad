export const WRANGLER_TOML: string;
export function readWranglerConfig(file?: string): Record<string, any>;
export function writeWranglerConfig(file: string, config: Record<string, any>): void;
export function rateLimits(config?: Record<string, any>): Record<string, { limit: number; period: number }>;
