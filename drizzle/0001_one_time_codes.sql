CREATE TABLE "auth_one_time_codes" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"purpose" text NOT NULL,
	"code_hash" text NOT NULL,
	"target" text,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"consumed_at" timestamp with time zone
);
--> statement-breakpoint
-- Reset codes live in auth_one_time_codes now; a code in flight during the deploy is re-requested.
DROP TABLE IF EXISTS "auth_password_reset_codes" CASCADE;--> statement-breakpoint
ALTER TABLE "auth_throttles" ADD COLUMN "window_started_at" timestamp with time zone;--> statement-breakpoint
-- The shared users table: added idempotently, as in 0000 (another service may have added it first).
ALTER TABLE "users" ADD COLUMN IF NOT EXISTS "status" text DEFAULT 'active' NOT NULL;--> statement-breakpoint
ALTER TABLE "auth_one_time_codes" ADD CONSTRAINT "auth_one_time_codes_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "auth_one_time_codes_user_purpose_idx" ON "auth_one_time_codes" USING btree ("user_id","purpose","created_at");--> statement-breakpoint
CREATE INDEX "auth_one_time_codes_expires_idx" ON "auth_one_time_codes" USING btree ("expires_at");