// Import existing users (with their password hashes, as they are) into this service's database.
//
//   npm run import-users -- <users.json | users.csv | postgres://...> [--database-url postgres://target]
//
// Sources: a JSON array of objects, a CSV file with a header row, or another PostgreSQL database
// with a `users` table. Fields: id, full_name, email, password (the hash), role, avatar, created_at.
// Kept as they are except email (trimmed, lower-cased) and full_name (trimmed). Every row is
// validated (uuid, email, role, a password hash format this service verifies); invalid rows are
// reported by row number and field, never with their values, and not imported. Inserts use
// ON CONFLICT DO NOTHING (id, email, lower(email)), so running it twice changes nothing.
// Target: --database-url, else DATABASE_URL. Exit code 0, or 1 when some rows were invalid
// (the valid ones are imported all the same), 2 for a usage or connection error.
import fs from "node:fs";
import path from "node:path";
import postgres from "postgres";

const FIELDS: (keyof UserRow)[] = ["id", "full_name", "email", "password", "role", "avatar", "created_at"];
const REQUIRED = ["id", "full_name", "email", "password", "role"];
const ROLES = new Set(["student", "instructor", "admin"]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** The formats login verifies (src/auth/password/hash.ts and src/auth/password/legacy-hashes.ts). */
const HASH_FORMATS = [
  /^\$scrypt\$ln=\d{1,2},r=\d{1,2},p=\d{1,2}\$[A-Za-z0-9+/]{16,}\$[A-Za-z0-9+/]{32,}$/,
  /^pbkdf2_sha256\$\d{1,8}\$[^$]+\$[A-Za-z0-9+/]{43}=$/,
  /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/,
];
const BATCH = 500;

function usage(message?: string): never {
  if (message) console.error(`import-users: ${message}`);
  console.error(
    "usage: npm run import-users -- <users.json | users.csv | postgres://user:pass@host/db> [--database-url postgres://target]\n" +
      "       (the target defaults to DATABASE_URL)",
  );
  process.exit(2);
}

function parseArgs(argv: string[]): { source: string; target: string } {
  let source: string | undefined;
  let target = process.env.DATABASE_URL;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--database-url") target = argv[++i];
    else if (a.startsWith("--database-url=")) target = a.slice("--database-url=".length);
    else if (a === "-h" || a === "--help") usage();
    else if (a.startsWith("--")) usage(`unknown option ${a}`);
    else if (source) usage("one source only");
    else source = a;
  }
  if (!source) usage("no source given");
  if (!target) usage("no target database: pass --database-url or set DATABASE_URL");
  return { source, target };
}

const isPostgresUrl = (s: string) => /^postgres(ql)?:\/\//i.test(s);
/** A connection string without its password, for messages. */
const describeUrl = (s: string) => {
  try {
    const u = new URL(s);
    return `${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname}`;
  } catch {
    return "(database)";
  }
};

/** RFC 4180 CSV: quoted fields, "" escapes, commas and newlines inside quotes, CRLF or LF. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // BOM
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      field = "";
      if (!(record.length === 1 && record[0] === "")) records.push(record);
      record = [];
    } else field += c;
  }
  if (quoted) throw new Error("CSV: a quoted field is not closed");
  if (field !== "" || record.length) {
    record.push(field);
    records.push(record);
  }
  return records;
}

/** A source row as read (any shape) and its 1-based row number in the source. */
interface SourceRow {
  n: number;
  raw: unknown;
}

/** The columns written to `users`. */
interface UserRow {
  id: string;
  full_name: string;
  email: string;
  password: string;
  role: string;
  avatar: string | null;
  created_at: Date | null;
}

/** Rows from a JSON or CSV file. */
function readFile(file: string): SourceRow[] {
  const text = fs.readFileSync(file, "utf8");
  const ext = path.extname(file).toLowerCase();
  if (ext === ".json") {
    const data = JSON.parse(text);
    const list = Array.isArray(data) ? data : Array.isArray(data?.users) ? data.users : null;
    if (!list) throw new Error("JSON: expected an array of user objects (or { users: [...] })");
    return list.map((raw: unknown, i: number) => ({ n: i + 1, raw }));
  }
  if (ext === ".csv") {
    const [header, ...records] = parseCsv(text);
    if (!header) return [];
    const names = header.map((h) => h.trim().toLowerCase());
    const missing = REQUIRED.filter((f) => !names.includes(f));
    if (missing.length) throw new Error(`CSV: the header lacks ${missing.join(", ")} (expected ${FIELDS.join(",")})`);
    return records.map((rec, i) => ({ n: i + 1, raw: Object.fromEntries(names.map((name, j) => [name, rec[j]])) }));
  }
  throw new Error(`unknown file type ${ext || "(none)"}: use .json or .csv`);
}

/** Validate and normalise one row. Returns { row } or { problems } (field names and reasons, no values). */
function checkRow(input: unknown): { row: UserRow; problems?: undefined } | { problems: string[] } {
  const problems: string[] = [];
  if (!input || typeof input !== "object" || Array.isArray(input)) return { problems: ["not an object"] };
  const raw = input as Record<string, unknown>;
  const str = (v: unknown) => (v === undefined || v === null ? "" : typeof v === "string" ? v : typeof v === "number" ? String(v) : null);
  const id = str(raw.id)?.trim() ?? null;
  if (!id || !UUID.test(id)) problems.push("id: not a UUID");
  const fullName = str(raw.full_name)?.trim() ?? null;
  if (!fullName) problems.push("full_name: missing");
  else if ([...fullName].length > 100) problems.push("full_name: longer than 100 characters");
  const email = str(raw.email)?.trim().toLowerCase() ?? null;
  if (!email || !EMAIL.test(email)) problems.push("email: not an email address");
  else if (email.length > 255) problems.push("email: longer than 255 characters");
  const role = str(raw.role)?.trim() ?? null;
  if (!role || !ROLES.has(role)) problems.push("role: not student, instructor or admin");
  const password = str(raw.password);
  if (!password) problems.push("password: missing");
  else if (!HASH_FORMATS.some((re) => re.test(password)))
    problems.push("password: not a known hash format (scrypt, pbkdf2_sha256, bcrypt)");
  const avatar = str(raw.avatar);
  if (avatar === null) problems.push("avatar: not a string");
  let createdAt: Date | null = null;
  const created = raw.created_at;
  if (created !== undefined && created !== null && created !== "") {
    createdAt = created instanceof Date ? created : new Date(typeof created === "number" ? created : String(created));
    if (Number.isNaN(createdAt.getTime())) problems.push("created_at: not a date");
  }
  if (problems.length) return { problems };
  return {
    row: {
      id: id!.toLowerCase(),
      full_name: fullName!,
      email: email!,
      password: password!,
      role: role!,
      avatar: avatar || null,
      created_at: createdAt,
    },
  };
}

async function* sourceRows(source: string): AsyncGenerator<SourceRow> {
  if (isPostgresUrl(source)) {
    const src = postgres(source, { max: 1, onnotice: () => {} });
    try {
      let n = 0;
      const cursor =
        src`select id::text as id, full_name, email, password, role, avatar, created_at from users order by created_at nulls first, id`.cursor(
          BATCH,
        );
      for await (const rows of cursor) for (const raw of rows) yield { n: ++n, raw };
    } finally {
      await src.end();
    }
    return;
  }
  for (const r of readFile(source)) yield r;
}

async function main() {
  const { source, target } = parseArgs(process.argv.slice(2));
  const from = isPostgresUrl(source) ? describeUrl(source) : source;
  if (!isPostgresUrl(source) && !fs.existsSync(source)) usage(`no such file: ${source}`);
  const sql = postgres(target, { max: 1, onnotice: () => {} });
  const counts = { read: 0, inserted: 0, skipped: 0, invalid: 0 };
  const invalid: string[] = [];
  let batch: UserRow[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const rows = batch;
    batch = [];
    // No conflict target: any unique constraint (id, email, lower(email)) makes a row a no-op. Each
    // account inserted gets its user.created event (src/auth/events/types.ts) in the same statement.
    const inserted = await sql`
      with inserted as (insert into users ${sql(rows, ...FIELDS)} on conflict do nothing returning id, role),
      events as (
        insert into auth_events (id, type, at, user_id, actor_type, actor_id, data)
        select gen_random_uuid(), 'user.created', now(), id, 'system', null, jsonb_build_object('role', role, 'method', 'import')
          from inserted
      )
      select id from inserted`;
    counts.inserted += inserted.length;
    counts.skipped += rows.length - inserted.length;
  };
  try {
    for await (const { n, raw } of sourceRows(source)) {
      counts.read++;
      const checked = checkRow(raw);
      if (checked.problems !== undefined) {
        counts.invalid++;
        invalid.push(`row ${n}: ${checked.problems.join("; ")}`);
        continue;
      }
      batch.push(checked.row);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
  } catch (err) {
    const msg =
      (err as { code?: string })?.code === "42P01"
        ? "the target has no users table: run `npm run db:migrate` first"
        : String((err as Error)?.message ?? err);
    console.error(`import-users: ${msg}`);
    await sql.end({ timeout: 1 });
    process.exit(2);
  }
  await sql.end();
  console.log(`import-users: ${counts.read} rows read from ${from} into ${describeUrl(target)}`);
  console.log(`  inserted: ${counts.inserted}`);
  console.log(`  skipped:  ${counts.skipped} (id or email already present)`);
  console.log(`  invalid:  ${counts.invalid}`);
  for (const line of invalid.slice(0, 200)) console.log(`    ${line}`);
  if (invalid.length > 200) console.log(`    ... and ${invalid.length - 200} more`);
  process.exit(counts.invalid ? 1 : 0);
}

await main();
