import { useId, useState } from "preact/hooks";
import { read, type Session } from "../api";
import { PageHeading } from "../components/heading";
import { TableRegion } from "../components/messages";
import { onOff, utc, yesNo } from "../format";
import { t, word } from "../i18n";
import { useLoad } from "../load";
import { href } from "../route";

/**
 * Keyset pages: the cursors that led to the current page (Previous drops one). They belong to one
 * search (`key`): another search starts at its first page.
 */
export function usePages(key: string) {
  const [state, setState] = useState<{ key: string; cursors: string[] }>({ key, cursors: [] });
  const cursors = state.key === key ? state.cursors : [];
  return {
    cursor: cursors[cursors.length - 1],
    page: cursors.length + 1,
    next: (cursor: string) => setState({ key, cursors: [...cursors, cursor] }),
    previous: () => setState({ key, cursors: cursors.slice(0, -1) }),
  };
}

export function Pager({
  label,
  page,
  hasNext,
  onNext,
  onPrevious,
}: {
  label: string;
  page: number;
  hasNext: boolean;
  onNext: () => void;
  onPrevious: () => void;
}) {
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" onClick={onPrevious} disabled={page === 1}>
        {t("pager.previous")}
      </button>
      <span>{t("pager.page", { page })}</span>
      <button type="button" onClick={onNext} disabled={!hasNext}>
        {t("pager.next")}
      </button>
    </nav>
  );
}

const FILTERS = ["q", "role", "status", "verified", "mfa"] as const;
type UserQuery = NonNullable<Parameters<Session["api"]["auth"]["admin"]["users"]["$get"]>[0]>["query"];
type Filters = Record<(typeof FILTERS)[number], string>;

function Select({
  label,
  value,
  onChange,
  options,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  options: [string, string][];
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/** Accounts: search by the start of the email or part of the name, filters, keyset pages of 20. */
export function UsersPage({ session, query }: { session: Session; query: URLSearchParams }) {
  const applied = Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? ""])) as Filters;
  const key = FILTERS.map((f) => applied[f]).join("\u0000");
  const pages = usePages(key);
  const list = useLoad(`${key}\u0000${pages.cursor ?? ""}`, () =>
    read(
      session.api.auth.admin.users.$get({
        query: {
          q: applied.q || undefined,
          role: applied.role || undefined,
          // The URL's values as they are: the API refuses anything else with a message shown here.
          status: (applied.status || undefined) as UserQuery["status"],
          verified: (applied.verified || undefined) as UserQuery["verified"],
          mfa: (applied.mfa || undefined) as UserQuery["mfa"],
          cursor: pages.cursor,
          limit: "20",
        },
      }),
    ),
  );

  return (
    <>
      <PageHeading title={t("users.title")} />
      <UserFilters searchKey={key} applied={applied} />
      {list.error && (
        <p role="alert" class="error">
          {list.error}
        </p>
      )}
      {list.data && <UserTable users={list.data.users} caption={t("users.caption")} />}
      {list.loading && <p class="muted">{t("loading")}</p>}
      <Pager
        label={t("users.pages")}
        page={pages.page}
        hasNext={Boolean(list.data?.next_cursor)}
        onNext={() => list.data?.next_cursor && pages.next(list.data.next_cursor)}
        onPrevious={pages.previous}
      />
    </>
  );
}

export interface ListedUser {
  id: string;
  email: string;
  full_name: string;
  role: string;
  status: string;
  email_verified: boolean;
  mfa_enabled: boolean;
  created_at: string | null;
}

export function UserTable({ users, caption }: { users: ListedUser[]; caption: string }) {
  if (users.length === 0) return <p>{t("users.empty")}</p>;
  return (
    <TableRegion label={caption}>
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t("users.col.email")}</th>
            <th scope="col">{t("users.col.name")}</th>
            <th scope="col">{t("users.col.role")}</th>
            <th scope="col">{t("users.col.status")}</th>
            <th scope="col">{t("users.col.verified")}</th>
            <th scope="col">{t("users.col.mfa")}</th>
            <th scope="col">{t("users.col.created")}</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id}>
              <td>
                <a href={href(`users/${u.id}`)}>{u.email}</a>
              </td>
              <td>{u.full_name}</td>
              <td>{word("role", u.role)}</td>
              <td>{word("status", u.status)}</td>
              <td>{yesNo(u.email_verified)}</td>
              <td>{onOff(u.mfa_enabled)}</td>
              <td>{utc(u.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableRegion>
  );
}

/**
 * The search form: what is typed, until Search puts it in the address. A search that arrives
 * another way (back, forward, a link) replaces what was typed.
 */
function UserFilters({ searchKey, applied }: { searchKey: string; applied: Filters }) {
  const [typed, setTyped] = useState({ key: searchKey, form: applied });
  const form = typed.key === searchKey ? typed.form : applied;
  const searchId = useId();
  const set = (name: keyof Filters) => (value: string) => setTyped({ key: searchKey, form: { ...form, [name]: value } });
  const submit = (e: Event) => {
    e.preventDefault();
    location.hash = href("users", { ...form, q: form.q.trim() });
  };
  return (
    <form class="filters" onSubmit={submit}>
      <div class="field grow">
        <label for={searchId}>{t("users.search")}</label>
        <input
          id={searchId}
          type="search"
          placeholder={t("users.searchHint")}
          maxLength={100}
          value={form.q}
          onInput={(e) => set("q")(e.currentTarget.value)}
        />
      </div>
      <Select
        label={t("users.filter.role")}
        value={form.role}
        onChange={set("role")}
        options={[
          ["", t("users.filter.anyRole")],
          ["student", t("users.filter.student")],
          ["instructor", t("users.filter.instructor")],
          ["admin", t("users.filter.admin")],
        ]}
      />
      <Select
        label={t("users.filter.status")}
        value={form.status}
        onChange={set("status")}
        options={[
          ["", t("users.filter.anyStatus")],
          ["active", t("users.filter.active")],
          ["suspended", t("users.filter.suspended")],
          ["deletion_pending", t("users.filter.deletionPending")],
          ["deleted", t("users.filter.deleted")],
        ]}
      />
      <Select
        label={t("users.filter.verified")}
        value={form.verified}
        onChange={set("verified")}
        options={[
          ["", t("users.filter.either")],
          ["true", t("users.filter.isVerified")],
          ["false", t("users.filter.notVerified")],
        ]}
      />
      <Select
        label={t("users.filter.mfa")}
        value={form.mfa}
        onChange={set("mfa")}
        options={[
          ["", t("users.filter.either")],
          ["true", t("users.filter.mfaOn")],
          ["false", t("users.filter.mfaOff")],
        ]}
      />
      <div class="actions">
        <button type="submit" class="primary">
          {t("users.searchSubmit")}
        </button>
      </div>
    </form>
  );
}
