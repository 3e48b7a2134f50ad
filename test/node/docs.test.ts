import fs from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { readWranglerConfig } from "../../scripts/stack/wrangler-config.ts";
import { AUDIT_EVENTS } from "../../src/auth/audit";
import { EVENT_TYPE_NAMES } from "../../src/auth/events/types";
import { settingsSchema } from "../../src/config";
import { AppError, ERROR_CATALOG, type ErrorCode } from "../../src/errors";
import { RATE_LIMITS } from "../../src/middleware/rate-limit";

/**
 * The docs against the registries they describe. Each check lists every problem it finds as a
 * sentence saying what to add or remove where; the test shows that list (expected: empty).
 *
 * - docs/errors.md: one row `| \`code\` | status | meaning |` per code of ERROR_CATALOG (its messages: test/node/i18n.test.ts)
 * - docs/settings.md: one row `| \`NAME\` | default | description |` per key of settingsSchema
 * - docs/abuse.md: one row per RATE_LIMITS binding (## Per-client rate limits) and per AUDIT_EVENTS type (## Audit log)
 * - docs/services.md: one row per EVENT_TYPES type (## Event types)
 * - wrangler.toml [[ratelimits]]: the same names and periods as RATE_LIMITS
 * - every relative link in README.md and docs/*.md: an existing file, and an existing heading for #anchors
 */

const ROOT = path.resolve(__dirname, "../..");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

/** Markdown outside fenced code blocks, line numbers kept (fenced lines become empty). */
function prose(markdown: string): string[] {
  let fenced = false;
  return markdown.split("\n").map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line;
  });
}

interface Row {
  cells: string[];
  line: number;
}

/** Table rows of a piece of markdown (separator rows left out). */
function tableRows(lines: string[], firstLine = 1): Row[] {
  const rows: Row[] = [];
  lines.forEach((line, i) => {
    const t = line.trim();
    if (!t.startsWith("|") || /^\|[\s|:-]+\|$/.test(t)) return;
    rows.push({
      cells: t
        .slice(1, t.endsWith("|") ? -1 : undefined)
        .split("|")
        .map((c) => c.trim()),
      line: firstLine + i,
    });
  });
  return rows;
}

/** The lines under a heading (`## Audit log`) up to the next heading of the same or a higher level. */
function section(lines: string[], heading: string): { lines: string[]; firstLine: number } | null {
  const level = heading.indexOf(" ");
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return null;
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    const m = /^(#+)\s/.exec(lines[i]);
    if (m && m[1].length <= level) {
      end = i;
      break;
    }
  }
  return { lines: lines.slice(start + 1, end), firstLine: start + 2 };
}

/** Rows whose first cell is one backticked name matching `name`: name -> the row. */
function rowsByName(rows: Row[], name: RegExp, file: string, problems: string[]): Map<string, Row> {
  const out = new Map<string, Row>();
  for (const row of rows) {
    const m = /^`([^`]+)`$/.exec(row.cells[0] ?? "");
    if (!m || !name.test(m[1])) continue;
    if (out.has(m[1])) problems.push(`${file}:${row.line}: \`${m[1]}\` has a second row (also line ${out.get(m[1])!.line}): keep one`);
    else out.set(m[1], row);
  }
  return out;
}

const NONE = new Set(["–", "-", "—", ""]);
const unquote = (cell: string) => cell.replace(/^`(.*)`$/, "$1");

describe("docs/errors.md lists exactly the codes of ERROR_CATALOG (src/errors.ts)", () => {
  it("one row per code, with the catalog's status", () => {
    const problems: string[] = [];
    const file = "docs/errors.md";
    const rows = rowsByName(tableRows(prose(read(file))), /^[a-z][a-z0-9_]*$/, file, problems);
    for (const [code, { status }] of Object.entries(ERROR_CATALOG)) {
      const row = rows.get(code);
      // The English message (src/i18n/catalogs/en.json), as a starting point for the meaning column.
      const { message } = new AppError(code as ErrorCode);
      if (!row)
        problems.push(`${file} has no row for \`${code}\`: add  | \`${code}\` | ${status} | ${message} |  to the table of its group`);
      else if (row.cells[1] !== String(status))
        problems.push(`${file}:${row.line}: \`${code}\` is shown as ${row.cells[1]}, ERROR_CATALOG says ${status}: fix the status column`);
    }
    for (const [code, row] of rows)
      if (!(code in ERROR_CATALOG))
        problems.push(
          `${file}:${row.line}: \`${code}\` is not in ERROR_CATALOG (src/errors.ts): remove its row, or add the code to the catalog`,
        );
    expect(problems).toEqual([]);
  });
});

describe("docs/settings.md lists exactly the settings of settingsSchema (src/config.ts)", () => {
  const shape = settingsSchema.shape as Record<string, (typeof settingsSchema.shape)[keyof typeof settingsSchema.shape]>;
  /** A setting's value when unset: what the Worker uses by default. */
  const defaultOf = (key: string) => shape[key].safeParse(undefined).data as unknown;
  const hasNoDefault = (v: unknown) => v === undefined || (Array.isArray(v) && v.length === 0);

  it("one row per setting, with a default that parses to the schema's default", () => {
    const problems: string[] = [];
    const file = "docs/settings.md";
    const rows = rowsByName(tableRows(prose(read(file))), /^[A-Z][A-Z0-9_]*$/, file, problems);
    for (const key of Object.keys(shape)) {
      const row = rows.get(key);
      const dflt = defaultOf(key);
      if (!row) {
        const shown = hasNoDefault(dflt) ? "–" : `\`${String(dflt)}\``;
        problems.push(
          `${file} has no row for \`${key}\`: add  | \`${key}\` | ${shown} | ${shape[key].description ?? "…"} |  to the table of its topic`,
        );
        continue;
      }
      const cell = row.cells[1] ?? "";
      if (NONE.has(cell)) {
        if (!hasNoDefault(dflt))
          problems.push(`${file}:${row.line}: \`${key}\` is shown without a default, but its default is ${JSON.stringify(dflt)}: show it`);
        continue;
      }
      const parsed = shape[key].safeParse(unquote(cell));
      if (hasNoDefault(dflt)) problems.push(`${file}:${row.line}: \`${key}\` has no default in settingsSchema: show – instead of ${cell}`);
      else if (!parsed.success || !isDeepStrictEqual(parsed.data, dflt))
        problems.push(
          `${file}:${row.line}: the default shown for \`${key}\` (${cell}) is not its default in settingsSchema (${JSON.stringify(dflt)}): fix the default column`,
        );
    }
    for (const [key, row] of rows)
      if (!(key in shape))
        problems.push(`${file}:${row.line}: \`${key}\` is not in settingsSchema (src/config.ts): remove its row, or add the setting`);
    expect(problems).toEqual([]);
  });

  it("the default check itself: a wrong default is caught, an equivalent spelling is accepted", () => {
    // What the test above relies on, on real settings: "15m" and "900" are the same duration.
    expect(isDeepStrictEqual(shape.ACCESS_TOKEN_TTL.safeParse("15m").data, defaultOf("ACCESS_TOKEN_TTL"))).toBe(true);
    expect(isDeepStrictEqual(shape.ACCESS_TOKEN_TTL.safeParse("900").data, defaultOf("ACCESS_TOKEN_TTL"))).toBe(true);
    expect(isDeepStrictEqual(shape.ACCESS_TOKEN_TTL.safeParse("10m").data, defaultOf("ACCESS_TOKEN_TTL"))).toBe(false);
    expect(isDeepStrictEqual(shape.LEGACY_HS256.safeParse("true").data, defaultOf("LEGACY_HS256"))).toBe(false);
    expect(hasNoDefault(defaultOf("CORS_ORIGINS"))).toBe(true);
    expect(hasNoDefault(defaultOf("OTP_TTL"))).toBe(false);
  });
});

describe("rate limits: RATE_LIMITS (src/middleware/rate-limit.ts), wrangler.toml [[ratelimits]] and docs/abuse.md agree", () => {
  const toml = (readWranglerConfig().ratelimits ?? []) as {
    name: string;
    namespace_id: string;
    simple: { limit: number; period: number };
  }[];
  const declared = RATE_LIMITS as Record<string, { period: number }>;

  it("the same bindings with the same periods, each with its own namespace_id", () => {
    const problems: string[] = [];
    for (const [name, { period }] of Object.entries(declared)) {
      const block = toml.find((b) => b.name === name);
      if (!block)
        problems.push(
          `wrangler.toml has no [[ratelimits]] block for ${name} (RATE_LIMITS): add  [[ratelimits]] name = "${name}" namespace_id = "<unique>" simple = { limit = <n>, period = ${period} }`,
        );
      else if (block.simple?.period !== period)
        problems.push(
          `${name}: wrangler.toml says period ${block.simple?.period}, RATE_LIMITS says ${period} (it sets Retry-After): make them equal`,
        );
    }
    for (const block of toml)
      if (!(block.name in declared))
        problems.push(
          `RATE_LIMITS in src/middleware/rate-limit.ts has no ${block.name} (wrangler.toml declares it): add  ${block.name}: { period: ${block.simple?.period} },  or remove the block`,
        );
    const ids = new Map<string, string>();
    for (const block of toml) {
      const other = ids.get(String(block.namespace_id));
      if (other) problems.push(`wrangler.toml: ${block.name} and ${other} share namespace_id ${block.namespace_id}: give each its own`);
      ids.set(String(block.namespace_id), block.name);
    }
    expect(toml.length).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  it("docs/abuse.md has a row per binding showing its limit and period", () => {
    const problems: string[] = [];
    const file = "docs/abuse.md";
    const heading = "## Per-client rate limits";
    const part = section(prose(read(file)), heading);
    expect(part, `${file} needs a "${heading}" section`).not.toBeNull();
    const rows = rowsByName(tableRows(part!.lines, part!.firstLine), /^RL_[A-Z0-9_]+$/, file, problems);
    for (const block of toml) {
      const shown = `${block.simple.limit} / ${block.simple.period} s`;
      const row = rows.get(block.name);
      if (!row)
        problems.push(
          `${file} (${heading}) has no row for \`${block.name}\`: add  | \`${block.name}\` | ${shown} | <routes> | <why this size> |`,
        );
      else if (row.cells[1] !== shown)
        problems.push(`${file}:${row.line}: \`${block.name}\` is shown as ${row.cells[1]}, wrangler.toml says ${shown}: fix it`);
    }
    for (const [name, row] of rows)
      if (!toml.some((b) => b.name === name))
        problems.push(`${file}:${row.line}: \`${name}\` is not a [[ratelimits]] binding: remove its row`);
    expect(problems).toEqual([]);
  });
});

describe("docs/abuse.md documents every AUDIT_EVENTS type (src/auth/audit.ts)", () => {
  it("one row per event type in the audit log table", () => {
    const problems: string[] = [];
    const file = "docs/abuse.md";
    const heading = "## Audit log";
    const part = section(prose(read(file)), heading);
    expect(part, `${file} needs a "${heading}" section`).not.toBeNull();
    const rows = rowsByName(tableRows(part!.lines, part!.firstLine), /^[a-z][a-z0-9_]*$/, file, problems);
    for (const event of AUDIT_EVENTS)
      if (!rows.has(event))
        problems.push(
          `${file} (${heading}) has no row for \`${event}\`: add  | \`${event}\` | <outcomes> | <when it is recorded, its detail fields> |`,
        );
    for (const [event, row] of rows)
      if (!(AUDIT_EVENTS as readonly string[]).includes(event))
        problems.push(`${file}:${row.line}: \`${event}\` is not in AUDIT_EVENTS (src/auth/audit.ts): remove its row, or add the event`);
    expect(problems).toEqual([]);
  });
});

describe("docs/services.md documents every EVENT_TYPES type (src/auth/events/types.ts)", () => {
  it("one row per event type in the event types table", () => {
    const problems: string[] = [];
    const file = "docs/services.md";
    const heading = "## Event types";
    const part = section(prose(read(file)), heading);
    expect(part, `${file} needs a "${heading}" section`).not.toBeNull();
    const rows = rowsByName(tableRows(part!.lines, part!.firstLine), /^[a-z]+\.[a-z_]+$/, file, problems);
    for (const type of EVENT_TYPE_NAMES)
      if (!rows.has(type))
        problems.push(`${file} (${heading}) has no row for \`${type}\`: add  | \`${type}\` | <its fields> | <when it is written> |`);
    for (const [type, row] of rows)
      if (!(EVENT_TYPE_NAMES as readonly string[]).includes(type))
        problems.push(`${file}:${row.line}: \`${type}\` is not in EVENT_TYPES (src/auth/events/types.ts): remove its row, or add the type`);
    expect(problems).toEqual([]);
  });
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown)) {
    const m = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const text = m[1].replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

describe("links in README.md and docs/*.md", () => {
  const files = [
    "README.md",
    ...fs
      .readdirSync(path.join(ROOT, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => `docs/${f}`),
  ];

  it("every relative link points to an existing file, and every #anchor to an existing heading", () => {
    const problems: string[] = [];
    let checked = 0;
    for (const file of files) {
      prose(read(file)).forEach((raw, i) => {
        const line = raw.replace(/`[^`]*`/g, "");
        for (const m of line.matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
          const target = m[1];
          if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
          checked++;
          const [rel, anchor] = target.split("#");
          const dest = rel ? path.join(path.dirname(path.join(ROOT, file)), decodeURI(rel)) : path.join(ROOT, file);
          const shown = path.relative(ROOT, dest);
          if (!fs.existsSync(dest)) {
            problems.push(`${file}:${i + 1}: link ${target}: ${shown} does not exist`);
            continue;
          }
          if (anchor !== undefined && !anchors(fs.readFileSync(dest, "utf8")).has(anchor))
            problems.push(`${file}:${i + 1}: link ${target}: ${shown} has no heading with the anchor #${anchor}`);
        }
      });
    }
    expect(checked).toBeGreaterThan(20);
    expect(problems).toEqual([]);
  });

  it("the anchor rule matches GitHub's on the headings these docs use", () => {
    expect([...anchors("## The audit: `npm run lint:api`\n## Public keys (JWKS) and verifying\n## A b\n## A b")]).toEqual([
      "the-audit-npm-run-lintapi",
      "public-keys-jwks-and-verifying",
      "a-b",
      "a-b-1",
    ]);
  });
});
