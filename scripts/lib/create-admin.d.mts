/** Types for create-admin.mjs (the database part of `npm run create-admin`). */
import type postgres from "postgres";

export const SETUP_PURPOSE: "admin_setup";
export const DEFAULT_SETUP_TTL_SECONDS: number;
export const SETUP_PATH: string;
export class CreateAdminError extends Error {}

export interface CreatedAdmin {
  id: string;
  email: string;
  created: boolean;
  reactivated: boolean;
  previousRole: string | null;
  /** Shown once; only its SHA-256 is stored. */
  token: string;
  expiresAt: Date;
}

export function createAdmin(
  sql: postgres.Sql,
  options: { email: string; name?: string; ttlSeconds?: number; reactivate?: boolean; now?: Date },
): Promise<CreatedAdmin>;
