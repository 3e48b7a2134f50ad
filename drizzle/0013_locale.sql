-- The language of an account's mails (src/i18n/locales.ts, docs/languages.md); null: not chosen.
-- Idempotent on the shared users table, and unconstrained: the supported list changes without a
-- migration, and the other services' model of users (which does not know the column) keeps working.
ALTER TABLE "users" ADD COLUMN IF NOT EXISTS "locale" text;
