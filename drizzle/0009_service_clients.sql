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