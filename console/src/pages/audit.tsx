import { useId, useState } from "preact/hooks";
import { ApiError, read, type Session } from "../api";
import { AuditTable } from "../components/audit-table";
import { PageHeading } from "../components/heading";
import { t } from "../i18n";
import { useLoad } from "../load";
import { href } from "../route";
import { Pager, usePages } from "./users";

/** The id of the account with exactly this address (through the admin search). */
async function accountId(session: Session, email: string): Promise<string> {
  const wanted = email.trim().toLowerCase();
  const body = await read(session.api.auth.admin.users.$get({ query: { q: wanted, limit: "100" } }));
  const hit = body.users.find((u) => u.email.toLowerCase() === wanted);
  if (!hit) throw new ApiError(404, "no_account", t("error.noAccount", { email: email.trim() }));
  return hit.id;
}

/** An ISO time as a datetime-local value (the browser's local time), and back. */
const toLocalInput = (iso: string) => {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
const fromLocalInput = (v: string) => (v ? new Date(v).toISOString() : "");

const FIELDS = ["actor", "subject", "type", "since", "until"] as const;
type AuditQuery = NonNullable<Parameters<Session["api"]["auth"]["admin"]["audit"]["$get"]>[0]>["query"];
type Fields = Record<(typeof FIELDS)[number], string>;

/** The audit log, newest first: by actor, subject (by email), event type and time window. */
export function AuditPage({ session, query }: { session: Session; query: URLSearchParams }) {
  const applied = Object.fromEntries(FIELDS.map((f) => [f, query.get(f) ?? ""])) as Fields;
  const key = FIELDS.map((f) => applied[f]).join("\u0000");
  // What is typed, until Filter puts it in the address; a filter arriving another way replaces it.
  const [typed, setTyped] = useState({ key, form: applied });
  const form = typed.key === key ? typed.form : applied;
  const setForm = (change: (f: Fields) => Fields) => setTyped({ key, form: change(form) });
  const pages = usePages(key);
  const list = useLoad(`${key}\u0000${pages.cursor ?? ""}`, async () => {
    const [actorId, userId] = await Promise.all([
      applied.actor ? accountId(session, applied.actor) : undefined,
      applied.subject ? accountId(session, applied.subject) : undefined,
    ]);
    return read(
      session.api.auth.admin.audit.$get({
        query: {
          actor_id: actorId,
          user_id: userId,
          // Typed as the API's event list; an unknown one is refused with a message shown here.
          type: (applied.type || undefined) as AuditQuery["type"],
          since: applied.since || undefined,
          until: applied.until || undefined,
          cursor: pages.cursor,
          limit: "50",
        },
      }),
    );
  });
  const ids = { actor: useId(), subject: useId(), type: useId(), since: useId(), until: useId(), hint: useId() };
  const set = (name: keyof Fields) => (e: Event) => {
    const value = (e.currentTarget as HTMLInputElement).value;
    setForm((f) => ({ ...f, [name]: value }));
  };
  const submit = (e: Event) => {
    e.preventDefault();
    location.hash = href("audit", {
      actor: form.actor.trim(),
      subject: form.subject.trim(),
      type: form.type.trim(),
      since: form.since,
      until: form.until,
    });
  };

  return (
    <>
      <PageHeading title={t("audit.title")} />
      <form class="filters" aria-label={t("audit.form")} onSubmit={submit}>
        <div class="field">
          <label for={ids.actor}>{t("audit.actor")}</label>
          <input id={ids.actor} type="email" value={form.actor} onInput={set("actor")} />
        </div>
        <div class="field">
          <label for={ids.subject}>{t("audit.subject")}</label>
          <input id={ids.subject} type="email" value={form.subject} onInput={set("subject")} />
        </div>
        <div class="field">
          <label for={ids.type}>{t("audit.event")}</label>
          <input id={ids.type} type="text" placeholder={t("audit.eventHint")} spellcheck={false} value={form.type} onInput={set("type")} />
        </div>
        <div class="field">
          <label for={ids.since}>{t("audit.since")}</label>
          <input
            id={ids.since}
            type="datetime-local"
            aria-describedby={ids.hint}
            value={toLocalInput(form.since)}
            onInput={(e) => setForm((f) => ({ ...f, since: fromLocalInput(e.currentTarget.value) }))}
          />
        </div>
        <div class="field">
          <label for={ids.until}>{t("audit.until")}</label>
          <input
            id={ids.until}
            type="datetime-local"
            aria-describedby={ids.hint}
            value={toLocalInput(form.until)}
            onInput={(e) => setForm((f) => ({ ...f, until: fromLocalInput(e.currentTarget.value) }))}
          />
        </div>
        <p id={ids.hint} class="hint">
          {t("audit.timeHint")}
        </p>
        <div class="actions">
          <button type="submit" class="primary">
            {t("audit.submit")}
          </button>
        </div>
      </form>
      {list.error && (
        <p role="alert" class="error">
          {list.error}
        </p>
      )}
      {list.data && <AuditTable events={list.data.events} caption={t("audit.caption")} />}
      {list.loading && <p class="muted">{t("loading")}</p>}
      <Pager
        label={t("audit.pages")}
        page={pages.page}
        hasNext={Boolean(list.data?.next_cursor)}
        onNext={() => list.data?.next_cursor && pages.next(list.data.next_cursor)}
        onPrevious={pages.previous}
      />
    </>
  );
}
