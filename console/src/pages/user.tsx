import { useId, useRef, useState } from "preact/hooks";
import { read, type Session } from "../api";
import { AuditTable } from "../components/audit-table";
import { type Confirmation, ConfirmDialog } from "../components/dialog";
import { PageHeading } from "../components/heading";
import { type Flash, FlashMessage, TableRegion } from "../components/messages";
import { onOff, utc, yesNo } from "../format";
import { t, word } from "../i18n";
import { useLoad } from "../load";
import { href } from "../route";

const ASSIGNABLE_ROLES = ["student", "instructor"];
/** Events of administrators looking at the account (this page writes them): left out of its recent events. */
const READS = new Set(["admin_user_viewed", "admin_audit_viewed", "admin_users_listed"]);

/** One account: profile, state, sessions, identities, factors, recent events, and what an administrator can do to it. */
export function UserPage({ session, id }: { session: Session; id: string }) {
  const account = useLoad(id, () => read(session.api.auth.admin.users[":id"].$get({ param: { id } })));
  const events = useLoad(id, () => read(session.api.auth.admin.audit.$get({ query: { user_id: id, limit: "40" } })));
  const [flash, setFlash] = useState<Flash | null>(null);
  const [confirming, setConfirming] = useState<Confirmation | null>(null);
  // The role picked in the select, until saved (null: the account's own).
  const [picked, setPicked] = useState<string | null>(null);
  const roleId = useId();
  const seq = useRef(0);
  const user = account.data?.user;

  if (!user) {
    return (
      <>
        <PageHeading title={t("user.title")} />
        {account.error ? (
          <p role="alert" class="error">
            {account.error}
          </p>
        ) : (
          <p class="muted">{t("loading")}</p>
        )}
      </>
    );
  }

  const users = session.api.auth.admin.users[":id"];
  const param = { param: { id } };
  /** Run a change, then show its outcome and read the account again. */
  const act = (work: () => Promise<unknown>, done: string) => {
    setFlash(null);
    work().then(
      () => {
        setPicked(null);
        setFlash({ kind: "ok", text: done });
        account.reload();
        events.reload();
      },
      (err: Error) => setFlash({ kind: "error", text: err.message }),
    );
  };
  const ask = (c: Omit<Confirmation, "run" | "seq">, work: (reason: string | undefined) => Promise<unknown>, done: string) =>
    setConfirming({ ...c, seq: ++seq.current, run: (reason) => act(() => work(reason), done) });
  const patch = (json: { role?: "student" | "instructor"; status?: "active" | "suspended"; reason?: string }) =>
    read(users.$patch({ ...param, json }));

  const self = user.id === session.admin.id;
  const pendingInstructor = user.requested_role === "instructor";
  const beingDeleted = user.status === "deletion_pending" || user.status === "deleted";
  const data = account.data!;
  const role = picked ?? user.role;

  return (
    <>
      <PageHeading title={user.email}>{user.email}</PageHeading>
      <FlashMessage flash={flash} />
      {account.error && (
        <p role="alert" class="error">
          {account.error}
        </p>
      )}
      <section aria-labelledby="profile-heading">
        <h2 id="profile-heading">{t("user.profile")}</h2>
        <dl class="facts">
          <dt>{t("user.name")}</dt>
          <dd>{user.full_name}</dd>
          <dt>{t("user.email")}</dt>
          <dd>{user.email}</dd>
          <dt>{t("user.verified")}</dt>
          <dd>{yesNo(user.email_verified)}</dd>
          <dt>{t("user.role")}</dt>
          <dd>{word("role", user.role)}</dd>
          <dt>{t("user.requestedRole")}</dt>
          <dd>{user.requested_role ? word("role", user.requested_role) : t("none")}</dd>
          <dt>{t("user.status")}</dt>
          <dd>{word("status", user.status)}</dd>
          {user.deletion_due_at && (
            <>
              <dt>{t("user.deletionDue")}</dt>
              <dd>{utc(user.deletion_due_at)}</dd>
            </>
          )}
          <dt>{t("user.mfa")}</dt>
          <dd>{onOff(user.mfa_enabled)}</dd>
          <dt>{t("user.created")}</dt>
          <dd>{utc(user.created_at)}</dd>
          <dt>{t("user.lastLogin")}</dt>
          <dd>{utc(user.last_login_at)}</dd>
        </dl>
      </section>

      <section aria-labelledby="actions-heading">
        <h2 id="actions-heading">{t("user.actions")}</h2>
        {self && <p>{t("user.self")}</p>}
        {beingDeleted && <p>{t("user.beingDeleted")}</p>}
        <div class="actions wrap">
          {user.status === "active" && !self && (
            <button
              type="button"
              class="danger"
              onClick={() =>
                ask(
                  {
                    title: t("user.suspend.title", { email: user.email }),
                    message: t("user.suspend.message"),
                    reason: "required",
                    danger: true,
                  },
                  (reason) => patch({ status: "suspended", reason }),
                  t("user.suspend.done", { email: user.email }),
                )
              }
            >
              {t("user.suspend")}
            </button>
          )}
          {user.status === "suspended" && !self && (
            <button
              type="button"
              onClick={() =>
                ask(
                  { title: t("user.reactivate.title", { email: user.email }), message: t("user.reactivate.message"), reason: "required" },
                  (reason) => patch({ status: "active", reason }),
                  t("user.reactivate.done", { email: user.email }),
                )
              }
            >
              {t("user.reactivate")}
            </button>
          )}
          {pendingInstructor && !beingDeleted && (
            <>
              <button
                type="button"
                class="primary"
                onClick={() =>
                  ask(
                    {
                      title: t("user.approve.title", { email: user.email }),
                      message: t("user.approve.message"),
                    },
                    () => patch({ role: "instructor" }),
                    t("user.nowInstructor", { email: user.email }),
                  )
                }
              >
                {t("user.approve")}
              </button>
              <button
                type="button"
                onClick={() =>
                  ask(
                    { title: t("user.refuse.title", { email: user.email }), message: t("user.refuse.message") },
                    () => patch({ role: "student" }),
                    t("user.refuse.done", { email: user.email }),
                  )
                }
              >
                {t("user.refuse")}
              </button>
            </>
          )}
          <button
            type="button"
            class="danger"
            onClick={() =>
              ask(
                {
                  title: t("user.revoke.title", { email: user.email }),
                  message: t("user.revoke.message"),
                  danger: true,
                },
                () => read(session.api.auth.admin.users[":id"]["revoke-sessions"].$post(param)),
                t("user.revoke.done", { email: user.email }),
              )
            }
          >
            {t("user.revoke")}
          </button>
          {!beingDeleted && (
            <button
              type="button"
              onClick={() =>
                ask(
                  {
                    title: t("user.reset.title", { email: user.email }),
                    message: t("user.reset.message"),
                  },
                  () => read(session.api.auth.admin.users[":id"]["send-password-reset"].$post(param)),
                  t("user.reset.done", { email: user.email }),
                )
              }
            >
              {t("user.reset")}
            </button>
          )}
          {user.status === "active" && !self && (
            <button
              type="button"
              class="danger"
              onClick={() =>
                ask(
                  {
                    title: t("user.delete.title", { email: user.email }),
                    message: t("user.delete.message"),
                    danger: true,
                  },
                  () => read(session.api.auth.admin.users[":id"].deletion.$post(param)),
                  t("user.delete.done", { email: user.email }),
                )
              }
            >
              {t("user.delete")}
            </button>
          )}
          {user.status === "deletion_pending" && (
            <button
              type="button"
              onClick={() =>
                ask(
                  {
                    title: t("user.undelete.title", { email: user.email }),
                    message: t("user.undelete.message"),
                  },
                  () => read(session.api.auth.admin.users[":id"].deletion.$delete(param)),
                  t("user.undelete.done", { email: user.email }),
                )
              }
            >
              {t("user.undelete")}
            </button>
          )}
        </div>
        {!self && !beingDeleted && (
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              if (!ASSIGNABLE_ROLES.includes(role) || role === user.role) return;
              const to = role as "student" | "instructor";
              ask(
                {
                  title: t("user.changeRole.title", { email: user.email, role: word("role", to) }),
                  message: to === "student" ? t("user.changeRole.lower") : t("user.changeRole.higher"),
                },
                () => patch({ role: to }),
                t(to === "student" ? "user.nowStudent" : "user.nowInstructor", { email: user.email }),
              );
            }}
          >
            <div class="field">
              <label for={roleId}>{t("user.role")}</label>
              <select id={roleId} value={role} onChange={(e) => setPicked(e.currentTarget.value)}>
                {!ASSIGNABLE_ROLES.includes(user.role) && (
                  <option value={user.role} disabled>
                    {word("role", user.role)}
                  </option>
                )}
                {ASSIGNABLE_ROLES.map((r) => (
                  <option key={r} value={r}>
                    {word("role", r)}
                  </option>
                ))}
              </select>
            </div>
            <button type="submit" disabled={role === user.role || !ASSIGNABLE_ROLES.includes(role)}>
              {t("user.saveRole")}
            </button>
          </form>
        )}
      </section>

      <section aria-labelledby="sessions-heading">
        <h2 id="sessions-heading">{t("user.sessions")}</h2>
        {data.sessions.length === 0 ? (
          <p>{t("user.sessions.empty")}</p>
        ) : (
          <TableRegion label={t("user.sessions.caption")}>
            <table>
              <caption class="visually-hidden">{t("user.sessions.caption")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("user.sessions.device")}</th>
                  <th scope="col">{t("user.sessions.ip")}</th>
                  <th scope="col">{t("user.sessions.signedIn")}</th>
                  <th scope="col">{t("user.sessions.lastUsed")}</th>
                  <th scope="col">{t("user.sessions.expires")}</th>
                </tr>
              </thead>
              <tbody>
                {data.sessions.map((s) => (
                  <tr key={s.id}>
                    <td class="detail">{s.user_agent ?? t("user.sessions.unknownDevice")}</td>
                    <td>{s.ip ?? t("none")}</td>
                    <td>{utc(s.created_at)}</td>
                    <td>{utc(s.last_used_at)}</td>
                    <td>{utc(s.expires_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        )}
      </section>

      <section aria-labelledby="identities-heading">
        <h2 id="identities-heading">{t("user.identities")}</h2>
        {data.identities.length === 0 ? (
          <p>{t("user.identities.empty")}</p>
        ) : (
          <TableRegion label={t("user.identities")}>
            <table>
              <caption class="visually-hidden">{t("user.identities")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("user.identities.provider")}</th>
                  <th scope="col">{t("user.identities.email")}</th>
                  <th scope="col">{t("user.identities.verified")}</th>
                  <th scope="col">{t("user.identities.linked")}</th>
                  <th scope="col">{t("user.identities.lastUsed")}</th>
                </tr>
              </thead>
              <tbody>
                {data.identities.map((i) => (
                  <tr key={i.id}>
                    <td>{i.provider}</td>
                    <td>{i.email ?? t("none")}</td>
                    <td>{yesNo(i.email_verified)}</td>
                    <td>{utc(i.created_at)}</td>
                    <td>{utc(i.last_used_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        )}
      </section>

      <section aria-labelledby="factors-heading">
        <h2 id="factors-heading">{t("user.factors")}</h2>
        {data.factors.length === 0 ? (
          <p>{t("user.factors.empty")}</p>
        ) : (
          <TableRegion label={t("user.factors")}>
            <table>
              <caption class="visually-hidden">{t("user.factors")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("user.factors.kind")}</th>
                  <th scope="col">{t("user.factors.state")}</th>
                  <th scope="col">{t("user.factors.enrolled")}</th>
                  <th scope="col">{t("user.factors.confirmed")}</th>
                  <th scope="col">{t("user.factors.lastUsed")}</th>
                </tr>
              </thead>
              <tbody>
                {data.factors.map((f) => (
                  <tr key={f.kind}>
                    <td>{f.kind === "totp" ? t("user.factors.totp") : f.kind}</td>
                    <td>{word("factor", f.status)}</td>
                    <td>{utc(f.created_at)}</td>
                    <td>{utc(f.confirmed_at)}</td>
                    <td>{utc(f.last_used_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        )}
        <p>{t("user.recoveryCodes", { count: data.recovery_codes_remaining })}</p>
      </section>

      <section aria-labelledby="events-heading">
        <h2 id="events-heading">{t("user.events")}</h2>
        {events.error && (
          <p role="alert" class="error">
            {events.error}
          </p>
        )}
        {events.data && (
          <AuditTable events={events.data.events.filter((e) => !READS.has(e.event)).slice(0, 10)} caption={t("user.events.caption")} />
        )}
        <p>
          {t("user.events.readsLeftOut")} <a href={href("audit", { subject: user.email })}>{t("user.events.all")}</a>
        </p>
      </section>

      {confirming && (
        // One dialog per question: a new one never reuses the element of one still closing.
        <ConfirmDialog key={confirming.seq} confirmation={confirming} onClose={() => setConfirming((c) => (c === confirming ? null : c))} />
      )}
    </>
  );
}
