import { useId, useState } from "preact/hooks";
import { read, type Session } from "../api";
import { PageHeading } from "../components/heading";
import { TableRegion } from "../components/messages";
import { utc, yesNo } from "../format";
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
        Previous
      </button>
      <span>Page {page}</span>
      <button type="button" onClick={onNext} disabled={!hasNext}>
        Next
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
      <PageHeading title="Users" />
      <UserFilters searchKey={key} applied={applied} />
      {list.error && (
        <p role="alert" class="error">
          {list.error}
        </p>
      )}
      {list.data && <UserTable users={list.data.users} caption="Accounts" />}
      {list.loading && <p class="muted">Loading…</p>}
      <Pager
        label="Pages of accounts"
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
  if (users.length === 0) return <p>No accounts match.</p>;
  return (
    <TableRegion label={caption}>
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Status</th>
            <th scope="col">Verified</th>
            <th scope="col">Two-factor</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id}>
              <td>
                <a href={href(`users/${u.id}`)}>{u.email}</a>
              </td>
              <td>{u.full_name}</td>
              <td>{u.role}</td>
              <td>{u.status}</td>
              <td>{yesNo(u.email_verified)}</td>
              <td>{u.mfa_enabled ? "on" : "off"}</td>
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
        <label for={searchId}>Search users</label>
        <input
          id={searchId}
          type="search"
          placeholder="Start of an email, or part of a name"
          maxLength={100}
          value={form.q}
          onInput={(e) => set("q")(e.currentTarget.value)}
        />
      </div>
      <Select
        label="Filter by role"
        value={form.role}
        onChange={set("role")}
        options={[
          ["", "Any role"],
          ["student", "Student"],
          ["instructor", "Instructor"],
          ["admin", "Admin"],
        ]}
      />
      <Select
        label="Filter by status"
        value={form.status}
        onChange={set("status")}
        options={[
          ["", "Any status"],
          ["active", "Active"],
          ["suspended", "Suspended"],
          ["deletion_pending", "Deletion pending"],
          ["deleted", "Deleted"],
        ]}
      />
      <Select
        label="Email verified"
        value={form.verified}
        onChange={set("verified")}
        options={[
          ["", "Either"],
          ["true", "Verified"],
          ["false", "Not verified"],
        ]}
      />
      <Select
        label="Two-factor sign-in"
        value={form.mfa}
        onChange={set("mfa")}
        options={[
          ["", "Either"],
          ["true", "On"],
          ["false", "Off"],
        ]}
      />
      <div class="actions">
        <button type="submit" class="primary">
          Search
        </button>
      </div>
    </form>
  );
}
