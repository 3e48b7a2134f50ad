-- Account management (src/auth/admin/, src/auth/account-deletion.ts). Everything on the shared
-- users table is idempotent: another service may have added a column or index of the same name.
-- pg_trgm (a contrib extension, trusted since PostgreSQL 13, on every managed Postgres) indexes
-- the admin search's name match.
CREATE EXTENSION IF NOT EXISTS pg_trgm;--> statement-breakpoint
ALTER TABLE "auth_audit_events" ADD COLUMN "actor_id" uuid;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN IF NOT EXISTS "requested_role" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN IF NOT EXISTS "deletion_due_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "auth_audit_events_event_at_idx" ON "auth_audit_events" USING btree ("event","at");--> statement-breakpoint
CREATE INDEX "auth_audit_events_actor_at_idx" ON "auth_audit_events" USING btree ("actor_id","at") WHERE "auth_audit_events"."actor_id" is not null;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "users_admin_order_idx" ON "users" USING btree (coalesce("created_at", 'epoch'::timestamptz),"id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "users_admin_role_idx" ON "users" USING btree ("role",coalesce("created_at", 'epoch'::timestamptz),"id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "users_admin_status_idx" ON "users" USING btree ("status",coalesce("created_at", 'epoch'::timestamptz),"id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "users_admin_requested_role_idx" ON "users" USING btree (coalesce("created_at", 'epoch'::timestamptz),"id") WHERE "users"."requested_role" is not null;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "users_email_prefix_idx" ON "users" USING btree (lower("email") text_pattern_ops);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "users_full_name_trgm_idx" ON "users" USING gin ("full_name" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "users_deletion_due_idx" ON "users" USING btree ("deletion_due_at") WHERE "users"."status" = 'deletion_pending';
