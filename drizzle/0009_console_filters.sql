-- The admin list's `verified` filter (GET /auth/admin/users?verified=, used by the operators'
-- console): one index for both answers, in the list's order. Idempotent on the shared users table.
CREATE INDEX IF NOT EXISTS "users_admin_verified_idx" ON "users" USING btree (("email_verified_at" is not null),coalesce("created_at", 'epoch'::timestamptz),"id");
