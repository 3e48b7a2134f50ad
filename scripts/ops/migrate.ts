// npm run db:migrate -- [connection string]   (or DATABASE_URL)
import { applyMigrations } from "../stack/migrations.ts";

const url = process.argv[2] ?? process.env.DATABASE_URL;
if (!url) {
  console.error("usage: npm run db:migrate -- postgres://user:pass@host:5432/db   (or set DATABASE_URL)");
  process.exit(2);
}
await applyMigrations(url);
console.log(`migrations applied to ${new URL(url).host}${new URL(url).pathname}`);
