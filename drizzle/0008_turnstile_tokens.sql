-- Turnstile tokens accepted once (src/auth/bot-defence/turnstile.ts), purged hourly.
CREATE TABLE IF NOT EXISTS "auth_turnstile_tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "auth_turnstile_tokens_expires_idx" ON "auth_turnstile_tokens" USING btree ("expires_at");
