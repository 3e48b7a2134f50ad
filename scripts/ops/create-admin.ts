// Make the first admin (or any admin): there is no HTTP route that grants the admin role.
//
//   npm run create-admin -- --email ada@example.com [--name "Ada Lovelace"] [--ttl 72h] [--existing] [--reactivate]
//                           [--database-url postgres://...]   (or a postgres:// argument, or DATABASE_URL)
//
// Creates the account (without a usable password) or promotes an existing one, and prints a
// one-time setup token with the steps that follow: set the password with it (POST
// /auth/account/setup), log in, enroll two-factor sign-in, log in again with it. The token is shown
// only here; only its SHA-256 is stored. Exit code 0, 1 when the account cannot be made admin, 2
// for a usage or connection error. See docs/admin.md.
import postgres from "postgres";
import { CreateAdminError, createAdmin, DEFAULT_SETUP_TTL_SECONDS, SETUP_PATH } from "./create-admin-db.ts";

function usage(message?: string): never {
  if (message) console.error(`create-admin: ${message}`);
  console.error(
    'usage: npm run create-admin -- --email ada@example.com [--name "Ada Lovelace"] [--ttl 72h] [--existing] [--reactivate] [--database-url postgres://...]\n' +
      "       (the database defaults to DATABASE_URL)",
  );
  process.exit(2);
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
function parseTtl(v: string | undefined) {
  const m = /^(\d+)\s*([smhd])?$/.exec(v ?? "");
  const seconds = m ? Number(m[1]) * UNITS[m[2] ?? "s"] : Number.NaN;
  if (!(seconds >= 600 && seconds <= 30 * 86400)) usage(`--ttl must be a duration between 10m and 30d, got ${JSON.stringify(v)}`);
  return seconds;
}

interface Options {
  url?: string;
  email?: string;
  name?: string;
  ttlSeconds: number;
  reactivate: boolean;
  /** Promote an account that already exists (its address verified). */
  existing: boolean;
}

function parseArgs(argv: string[]): Options & { url: string; email: string } {
  const opts: Options = { url: process.env.DATABASE_URL, ttlSeconds: DEFAULT_SETUP_TTL_SECONDS, reactivate: false, existing: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] =
      a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    if (flag === "--email") opts.email = value();
    else if (flag === "--name") opts.name = value();
    else if (flag === "--ttl") opts.ttlSeconds = parseTtl(value());
    else if (flag === "--database-url") opts.url = value();
    else if (flag === "--reactivate") opts.reactivate = true;
    else if (flag === "--existing") opts.existing = true;
    else if (flag === "-h" || flag === "--help") usage();
    else if (/^postgres(ql)?:\/\//i.test(a)) opts.url = a;
    else usage(`unknown argument ${a.startsWith("--") ? flag : "(a value)"}`);
  }
  const { email, url } = opts;
  if (!email) usage("--email is required");
  if (!url) usage("no database: pass --database-url or set DATABASE_URL");
  return { ...opts, email, url };
}

const describeUrl = (s: string) => {
  try {
    const u = new URL(s);
    return `${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname}`;
  } catch {
    return "(database)";
  }
};

const opts = parseArgs(process.argv.slice(2));
const sql = postgres(opts.url, { max: 1, onnotice: () => {}, connect_timeout: 15 });
try {
  const r = await createAdmin(sql, opts);
  const what = r.created ? "created as a new admin account" : `promoted to admin (was ${r.previousRole})`;
  console.log(`${r.email} ${what}${r.reactivated ? ", and re-activated" : ""} in ${describeUrl(opts.url)}.`);
  console.log("");
  console.log(`One-time setup token (works once, until ${r.expiresAt.toISOString()}; shown only now):`);
  console.log("");
  console.log(`  ${r.token}`);
  console.log("");
  console.log("Next steps, against the deployed API:");
  console.log(`  1. Set the password:   POST ${SETUP_PATH}  {"token": "<the token>", "new_password": "<a long passphrase>"}`);
  console.log("  2. Log in:             POST /auth/login  (this session may only enroll two-factor sign-in)");
  console.log('  3. Enroll MFA:         POST /auth/mfa/totp/enroll, then POST /auth/mfa/totp/confirm {"code": "<from the app>"}');
  console.log("  4. Log in again with the password and a code (POST /auth/mfa/verify): the admin API under /auth/admin is open.");
  console.log(
    `  The operators' console, once step 3 is done: <the API's origin>/console/ (npm run dev: http://127.0.0.1:${process.env.PORT ?? 8787}/console/);`,
  );
  console.log("  sign in there with the password and a code from the app (docs/console.md).");
  if (!r.created)
    console.log("  Step 1 is a change of owner: the account's other sessions, identities, factors and recovery codes are removed.");
} catch (err) {
  if (err instanceof CreateAdminError) {
    console.error(`create-admin: ${err.message}`);
    process.exitCode = 1;
  } else {
    console.error(`create-admin: cannot update ${describeUrl(opts.url)}: ${(err as Error).message}`);
    process.exitCode = 2;
  }
} finally {
  await sql.end({ timeout: 5 });
}
