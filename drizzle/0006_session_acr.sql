-- The assurance level of a session (src/auth/sign-in/ways-in.ts ACR_VALUES), recorded when it
-- starts; null on older sessions (derived from their amr).
ALTER TABLE "auth_sessions" ADD COLUMN IF NOT EXISTS "acr" text;
