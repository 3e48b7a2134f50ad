-- The identity-event outbox (src/auth/events/outbox.ts, docs/services.md): one row per event,
-- written in the transaction of its change; `position` is given after commit by the sequencer.
-- Written to be re-runnable (IF NOT EXISTS).
CREATE TABLE IF NOT EXISTS "auth_events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "auth_events_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"position" bigint,
	"type" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"user_id" uuid NOT NULL,
	"actor_type" text NOT NULL,
	"actor_id" uuid,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "auth_events_position_unique" UNIQUE("position")
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "auth_events_unsequenced_idx" ON "auth_events" USING btree ("seq") WHERE "auth_events"."position" is null;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "auth_events_user_position_idx" ON "auth_events" USING btree ("user_id","position");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "auth_events_at_idx" ON "auth_events" USING btree ("at");--> statement-breakpoint
-- Service clients (src/auth/services/clients.ts, docs/services.md#service-clients): other services
-- calling the events feed, introspection and account reads with HTTP Basic. Re-runnable.
CREATE TABLE IF NOT EXISTS "auth_service_clients" (
	"id" uuid PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"name" varchar(100) NOT NULL,
	"scopes" text[] NOT NULL,
	"secret_hash" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"created_by" uuid,
	"secret_rotated_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	CONSTRAINT "auth_service_clients_client_id_unique" UNIQUE("client_id")
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "auth_service_clients_revoked_idx" ON "auth_service_clients" USING btree ("revoked_at") WHERE "auth_service_clients"."revoked_at" is not null;