-- Signed webhooks (src/auth/webhooks/, docs/webhooks.md): the endpoints administrators register
-- and one delivery row per event and endpoint, delivered through a Cloudflare Queue in order per
-- account. Written to be re-runnable (IF NOT EXISTS, guarded constraints).
CREATE TABLE IF NOT EXISTS "auth_webhook_deliveries" (
	"id" uuid PRIMARY KEY NOT NULL,
	"endpoint_id" uuid NOT NULL,
	"event_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"position" bigint NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"window_attempts" integer DEFAULT 0 NOT NULL,
	"window_started_at" timestamp with time zone NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"lease_until" timestamp with time zone,
	"last_attempt_at" timestamp with time zone,
	"response_status" integer,
	"latency_ms" integer,
	"delivered_at" timestamp with time zone,
	"attempt_log" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "auth_webhook_endpoints" (
	"id" uuid PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"description" varchar(500) DEFAULT '' NOT NULL,
	"event_types" text[] NOT NULL,
	"secret" text NOT NULL,
	"previous_secret" text,
	"previous_secret_expires_at" timestamp with time zone,
	"status" text DEFAULT 'active' NOT NULL,
	"disabled_reason" text,
	"disabled_at" timestamp with time zone,
	"cursor" bigint DEFAULT 0 NOT NULL,
	"failure_streak" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"created_by" uuid,
	"updated_at" timestamp with time zone NOT NULL,
	"secret_rotated_at" timestamp with time zone
);
--> statement-breakpoint
DO $$ BEGIN
 ALTER TABLE "auth_webhook_deliveries" ADD CONSTRAINT "auth_webhook_deliveries_endpoint_id_auth_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."auth_webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;
EXCEPTION WHEN duplicate_object THEN null;
END $$;--> statement-breakpoint
DO $$ BEGIN
 ALTER TABLE "auth_webhook_deliveries" ADD CONSTRAINT "auth_webhook_deliveries_event_id_auth_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."auth_events"("id") ON DELETE cascade ON UPDATE no action;
EXCEPTION WHEN duplicate_object THEN null;
END $$;--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS "auth_webhook_deliveries_event_endpoint_idx" ON "auth_webhook_deliveries" USING btree ("event_id","endpoint_id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "auth_webhook_deliveries_pair_idx" ON "auth_webhook_deliveries" USING btree ("endpoint_id","user_id","position") WHERE "auth_webhook_deliveries"."status" = 'pending';--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "auth_webhook_deliveries_endpoint_position_idx" ON "auth_webhook_deliveries" USING btree ("endpoint_id","position");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "auth_webhook_deliveries_due_idx" ON "auth_webhook_deliveries" USING btree ("next_attempt_at") WHERE "auth_webhook_deliveries"."status" = 'pending';