import { type Client, createClient } from "../../src/client";
import { t } from "./i18n";

/**
 * The console's only way to the server: the typed client of the public API (src/client.ts), on
 * this origin. Tokens live in this module's memory only (never in storage or a cookie), so a
 * reload signs out. The client's fetch adds the access token, refreshes it once when it expired,
 * and when a change needs a recent login asks the person to confirm it's them (password and code)
 * and retries.
 */

export interface Admin {
  id: string;
  email: string;
  full_name: string;
  role: string;
}

interface Tokens {
  access: string;
  refresh: string;
}

/** An error answer of the API: its status, stable code and a sentence for people. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const errorOf = (status: number, body: unknown) => {
  const b = (body ?? {}) as { code?: unknown; message?: unknown };
  const message = typeof b.message === "string" ? b.message : t("error.status", { status });
  return new ApiError(status, typeof b.code === "string" ? b.code : "unknown", message);
};

type Body<R> = R extends { json(): Promise<infer B> } ? B : never;

/** The body of a typed call's 2xx answer, or an ApiError with the server's code and message. */
export async function read<R extends { ok: boolean; status: number; json(): Promise<unknown> }>(
  call: Promise<R>,
): Promise<Exclude<Body<R>, { status: "error" }>> {
  let res: R;
  try {
    res = await call;
  } catch {
    throw new ApiError(0, "network", t("error.network"));
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw errorOf(res.status, body);
  return body as Exclude<Body<R>, { status: "error" }>;
}

const codeOf = async (res: Response) => {
  const body = (await res
    .clone()
    .json()
    .catch(() => null)) as { code?: string } | null;
  return body?.code;
};

/** The API without a session: sign-in. */
export const anonymous = createClient(location.origin);

/** Asks the person to prove it's them again; resolves with fresh tokens, or null when they cancel. */
export type Reauthenticate = () => Promise<{ access: string; refresh: string } | null>;

export class Session {
  private tokens: Tokens | null;
  private refreshing: Promise<boolean> | null = null;
  /** The typed client of this session: every call carries its access token. */
  readonly api: Client;

  constructor(
    readonly admin: Admin,
    tokens: Tokens,
    private readonly reauthenticate: Reauthenticate,
    /** The server ended the session (revoked, expired, account suspended): the console signs out. */
    private readonly onEnded: () => void,
  ) {
    this.tokens = tokens;
    this.api = createClient(location.origin, { fetch: (input, init) => this.send(input, init) });
  }

  get active() {
    return this.tokens !== null;
  }

  private async send(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
    const once = () => {
      const headers = new Headers(init.headers);
      if (this.tokens) headers.set("Authorization", `Bearer ${this.tokens.access}`);
      return fetch(input, { ...init, headers, credentials: "omit" });
    };
    let res = await once();
    if (res.status === 401 && (await codeOf(res)) === "token_expired" && (await this.refresh())) res = await once();
    if (res.status === 403 && (await codeOf(res)) === "recent_login_required" && (await this.confirmIdentity())) res = await once();
    if (res.status === 401 && this.tokens) {
      this.tokens = null;
      this.onEnded();
    }
    return res;
  }

  /** A new access token from the refresh token (one at a time). */
  private refresh(): Promise<boolean> {
    this.refreshing ??= (async () => {
      const current = this.tokens;
      if (!current) return false;
      try {
        const pair = await read(anonymous.auth.refresh.$post({ json: { refresh_token: current.refresh } }));
        if (this.tokens === current) this.tokens = { access: pair.access_token, refresh: pair.refresh_token };
        return true;
      } catch {
        return false;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** A recent login for a change: the person signs in again in place; the old session ends. */
  private async confirmIdentity(): Promise<boolean> {
    const old = this.tokens;
    const fresh = await this.reauthenticate();
    if (!fresh || !this.tokens) return false;
    this.tokens = fresh;
    if (old) void endSession(old.access);
    return true;
  }

  /** End the session on the server and forget its tokens. */
  async signOut(): Promise<void> {
    const tokens = this.tokens;
    this.tokens = null;
    if (tokens) await endSession(tokens.access);
  }
}

/** End a session by its access token (POST /auth/logout); a failure leaves it to expire. */
export const endSession = (access: string) =>
  createClient(location.origin, { token: access })
    .auth.logout.$post()
    .catch(() => {});
