import { afterEach, describe, expect, it, vi } from "vitest";
import { loginAs, registerUser, uniqueEmail } from "../support/accounts";
import { call } from "../support/worker";

/**
 * REQUEST_LOG (src/config.ts, src/middleware/request.ts): which requests get the JSON request line.
 * Workers Logs records every request's invocation log anyway; the line adds the route pattern and
 * the request id, and by default only where something went wrong.
 */

afterEach(() => {
  vi.restoreAllMocks();
});

/** The request lines written while `fn` runs, keyed by request id. */
async function requestLines(fn: () => Promise<Response[]>) {
  const lines: string[] = [];
  vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(" ")));
  const responses = await fn();
  vi.restoreAllMocks();
  const byId = new Map<string, Record<string, unknown>>();
  for (const l of lines.map((x) => JSON.parse(x)).filter((x) => x.msg === "request")) byId.set(l.requestId, l);
  return responses.map((r) => byId.get(r.headers.get("X-Request-Id")!) ?? null);
}

const WRONG = "Wrong-Password-42x";

describe("REQUEST_LOG", () => {
  it("errors (the default): a line for a 4xx answer, none for a 2xx, the X-Request-Id on both", async () => {
    const u = await registerUser();
    const [ok, refused, unknown] = await requestLines(async () => [
      await call("/auth/me", { token: u.access_token }),
      await loginAs(u.email, WRONG),
      await call("/auth/no-such-route"),
    ]);
    expect(ok).toBeNull();
    expect(refused).toMatchObject({ level: "info", method: "POST", route: "/auth/login", status: 401 });
    expect(unknown).toMatchObject({ status: 404 });
  });

  it("errors: a successful request that logged a warning gets its line too (the breached-password check unreachable)", async () => {
    const body = { full_name: "Warned", email: uniqueEmail("warned"), password: "Fresh-Passw0rd-Warned!", role: "student" };
    const [registered] = await requestLines(async () => [
      await call("/auth/register", { body, env: { PWNED_PASSWORDS_URL: "http://127.0.0.1:1" } }),
    ]);
    expect(registered).toMatchObject({ route: "/auth/register", status: 201 });
  });

  it("all: a line for every request; none: no request line at all", async () => {
    const u = await registerUser();
    const [me, refused] = await requestLines(async () => [
      await call("/auth/me", { token: u.access_token, env: { REQUEST_LOG: "all" } }),
      await loginAs(u.email, WRONG, { env: { REQUEST_LOG: "all" } }),
    ]);
    expect(me).toMatchObject({ method: "GET", route: "/auth/me", status: 200 });
    expect(typeof me?.durationMs).toBe("number");
    expect(refused).toMatchObject({ status: 401 });
    const silent = await requestLines(async () => [
      await call("/auth/me", { token: u.access_token, env: { REQUEST_LOG: "none" } }),
      await loginAs(u.email, WRONG, { env: { REQUEST_LOG: "none" } }),
    ]);
    expect(silent).toEqual([null, null]);
  });

  it("sampled:N: every error and a share of the rest", async () => {
    const u = await registerUser();
    const env = { REQUEST_LOG: "sampled:2" };
    const lines = await requestLines(async () => {
      const out: Response[] = [];
      for (let i = 0; i < 48; i++) out.push(await call("/health/live", { env }));
      out.push(await loginAs(u.email, WRONG, { env }), await loginAs(uniqueEmail("nobody"), WRONG, { env }));
      return out;
    });
    const successes = lines.slice(0, 48).filter(Boolean).length;
    // One in two on average: all 48 or none of them would be a one-in-2^47 draw.
    expect(successes).toBeGreaterThan(0);
    expect(successes).toBeLessThan(48);
    expect(lines.slice(48).map((l) => l?.status)).toEqual([401, 401]);
  });

  it("a value it does not know refuses to start (500, logged) rather than logging less or more than asked", async () => {
    for (const REQUEST_LOG of ["sometimes", "sampled:1", "sampled:0", "sampled:x"]) {
      const res = await call("/health/live", { env: { REQUEST_LOG } });
      expect(res.status).toBe(500);
    }
    expect((await call("/health/live", { env: { REQUEST_LOG: " Sampled:10 " } })).status).toBe(200);
  });
});
