-- Ways in bound to their grounds (docs/social-sign-in.md): the web flow bound to the browser that
-- started it, to the app's PKCE pair and to its intent; native ID tokens accepted once; a social
-- session resting on its identity. Written to be re-runnable (IF NOT EXISTS, guarded constraints).
-- Pending web flows and exchange codes live minutes at most and carry no browser binding or PKCE
-- challenge of the new kind: they are dropped (their users start again).
DELETE FROM "auth_oauth_exchange_codes";--> statement-breakpoint
DELETE FROM "auth_oauth_states";--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "auth_oauth_used_tokens" (
	"key" text PRIMARY KEY NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "auth_oauth_exchange_codes" ALTER COLUMN "client_challenge" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "auth_oauth_states" ALTER COLUMN "client_challenge" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "auth_oauth_exchange_codes" ADD COLUMN IF NOT EXISTS "intent" text DEFAULT 'sign_in' NOT NULL;--> statement-breakpoint
ALTER TABLE "auth_oauth_exchange_codes" ADD COLUMN IF NOT EXISTS "session_id" uuid;--> statement-breakpoint
ALTER TABLE "auth_oauth_states" ADD COLUMN IF NOT EXISTS "binding_hash" text NOT NULL;--> statement-breakpoint
ALTER TABLE "auth_oauth_states" ADD COLUMN IF NOT EXISTS "intent" text DEFAULT 'sign_in' NOT NULL;--> statement-breakpoint
ALTER TABLE "auth_oauth_states" ADD COLUMN IF NOT EXISTS "session_id" uuid;--> statement-breakpoint
ALTER TABLE "auth_sessions" ADD COLUMN IF NOT EXISTS "identity_id" uuid;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "auth_oauth_used_tokens_expires_idx" ON "auth_oauth_used_tokens" USING btree ("expires_at");--> statement-breakpoint
DO $$ BEGIN
 ALTER TABLE "auth_oauth_exchange_codes" ADD CONSTRAINT "auth_oauth_exchange_codes_session_id_auth_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."auth_sessions"("id") ON DELETE cascade ON UPDATE no action;
EXCEPTION WHEN duplicate_object THEN null;
END $$;--> statement-breakpoint
DO $$ BEGIN
 ALTER TABLE "auth_oauth_states" ADD CONSTRAINT "auth_oauth_states_session_id_auth_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."auth_sessions"("id") ON DELETE cascade ON UPDATE no action;
EXCEPTION WHEN duplicate_object THEN null;
END $$;--> statement-breakpoint
DO $$ BEGIN
 ALTER TABLE "auth_sessions" ADD CONSTRAINT "auth_sessions_identity_id_auth_identities_id_fk" FOREIGN KEY ("identity_id") REFERENCES "public"."auth_identities"("id") ON DELETE cascade ON UPDATE no action;
EXCEPTION WHEN duplicate_object THEN null;
END $$;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "auth_sessions_identity_idx" ON "auth_sessions" USING btree ("identity_id") WHERE "auth_sessions"."identity_id" is not null;
