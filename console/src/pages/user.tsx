import { useId, useRef, useState } from "preact/hooks";
import { read, type Session } from "../api";
import { AuditTable } from "../components/audit-table";
import { type Confirmation, ConfirmDialog } from "../components/dialog";
import { PageHeading } from "../components/heading";
import { type Flash, FlashMessage, TableRegion } from "../components/messages";
import { utc, yesNo } from "../format";
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
        <PageHeading title="Account" />
        {account.error ? (
          <p role="alert" class="error">
            {account.error}
          </p>
        ) : (
          <p class="muted">Loading…</p>
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
        <h2 id="profile-heading">Profile</h2>
        <dl class="facts">
          <dt>Name</dt>
          <dd>{user.full_name}</dd>
          <dt>Email</dt>
          <dd>{user.email}</dd>
          <dt>Email verified</dt>
          <dd>{yesNo(user.email_verified)}</dd>
          <dt>Role</dt>
          <dd>{user.role}</dd>
          <dt>Requested role</dt>
          <dd>{user.requested_role ?? "–"}</dd>
          <dt>Status</dt>
          <dd>{user.status}</dd>
          {user.deletion_due_at && (
            <>
              <dt>Deleted for good at</dt>
              <dd>{utc(user.deletion_due_at)}</dd>
            </>
          )}
          <dt>Two-factor sign-in</dt>
          <dd>{user.mfa_enabled ? "on" : "off"}</dd>
          <dt>Created</dt>
          <dd>{utc(user.created_at)}</dd>
          <dt>Last login</dt>
          <dd>{utc(user.last_login_at)}</dd>
        </dl>
      </section>

      <section aria-labelledby="actions-heading">
        <h2 id="actions-heading">Actions</h2>
        {self && <p>This is your own account: another administrator must change its role or status.</p>}
        {beingDeleted && <p>This account is being deleted: cancel the deletion before changing anything else.</p>}
        <div class="actions wrap">
          {user.status === "active" && !self && (
            <button
              type="button"
              class="danger"
              onClick={() =>
                ask(
                  {
                    title: `Suspend ${user.email}?`,
                    message: "Every session of the account ends at once and it cannot sign in until it is reactivated.",
                    reason: "required",
                    danger: true,
                  },
                  (reason) => patch({ status: "suspended", reason }),
                  `${user.email} is suspended.`,
                )
              }
            >
              Suspend
            </button>
          )}
          {user.status === "suspended" && !self && (
            <button
              type="button"
              onClick={() =>
                ask(
                  { title: `Reactivate ${user.email}?`, message: "The account can sign in again.", reason: "required" },
                  (reason) => patch({ status: "active", reason }),
                  `${user.email} is active again.`,
                )
              }
            >
              Reactivate
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
                      title: `Approve ${user.email} as an instructor?`,
                      message: "The account becomes an instructor: it can open chats with students.",
                    },
                    () => patch({ role: "instructor" }),
                    `${user.email} is now an instructor.`,
                  )
                }
              >
                Approve instructor
              </button>
              <button
                type="button"
                onClick={() =>
                  ask(
                    { title: `Refuse ${user.email} as an instructor?`, message: "The request is declined; the account stays a student." },
                    () => patch({ role: "student" }),
                    `The instructor request of ${user.email} is refused.`,
                  )
                }
              >
                Refuse instructor
              </button>
            </>
          )}
          <button
            type="button"
            class="danger"
            onClick={() =>
              ask(
                {
                  title: `Revoke every session of ${user.email}?`,
                  message: "Its access and refresh tokens stop working at once; the account can sign in again.",
                  danger: true,
                },
                () => read(session.api.auth.admin.users[":id"]["revoke-sessions"].$post(param)),
                `Every session of ${user.email} ended.`,
              )
            }
          >
            Revoke sessions
          </button>
          {!beingDeleted && (
            <button
              type="button"
              onClick={() =>
                ask(
                  {
                    title: `Send ${user.email} a password reset code?`,
                    message: "The account's address gets the same code as a forgotten-password request. You never see the code.",
                  },
                  () => read(session.api.auth.admin.users[":id"]["send-password-reset"].$post(param)),
                  `A password reset code is being mailed to ${user.email}.`,
                )
              }
            >
              Send password reset
            </button>
          )}
          {user.status === "active" && !self && (
            <button
              type="button"
              class="danger"
              onClick={() =>
                ask(
                  {
                    title: `Schedule the deletion of ${user.email}?`,
                    message:
                      "Every session ends and the account cannot sign in. Its owner is mailed a restore code; after the grace period the account is anonymised for good.",
                    danger: true,
                  },
                  () => read(session.api.auth.admin.users[":id"].deletion.$post(param)),
                  `${user.email} is scheduled for deletion.`,
                )
              }
            >
              Schedule deletion
            </button>
          )}
          {user.status === "deletion_pending" && (
            <button
              type="button"
              onClick={() =>
                ask(
                  {
                    title: `Cancel the deletion of ${user.email}?`,
                    message: "The account becomes active again; its ended sessions stay ended.",
                  },
                  () => read(session.api.auth.admin.users[":id"].deletion.$delete(param)),
                  `The deletion of ${user.email} is cancelled.`,
                )
              }
            >
              Cancel deletion
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
                  title: `Change the role of ${user.email} to ${to}?`,
                  message:
                    to === "student"
                      ? "A lower role also ends every session of the account."
                      : "The account's next sign-in or refresh carries the new role.",
                },
                () => patch({ role: to }),
                `${user.email} is now ${to === "student" ? "a student" : "an instructor"}.`,
              );
            }}
          >
            <div class="field">
              <label for={roleId}>Role</label>
              <select id={roleId} value={role} onChange={(e) => setPicked(e.currentTarget.value)}>
                {!ASSIGNABLE_ROLES.includes(user.role) && (
                  <option value={user.role} disabled>
                    {user.role}
                  </option>
                )}
                {ASSIGNABLE_ROLES.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            </div>
            <button type="submit" disabled={role === user.role || !ASSIGNABLE_ROLES.includes(role)}>
              Save role
            </button>
          </form>
        )}
      </section>

      <section aria-labelledby="sessions-heading">
        <h2 id="sessions-heading">Sessions</h2>
        {data.sessions.length === 0 ? (
          <p>No live sessions.</p>
        ) : (
          <TableRegion label="Live sessions">
            <table>
              <caption class="visually-hidden">Live sessions</caption>
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">IP address</th>
                  <th scope="col">Signed in</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                </tr>
              </thead>
              <tbody>
                {data.sessions.map((s) => (
                  <tr key={s.id}>
                    <td class="detail">{s.user_agent ?? "unknown"}</td>
                    <td>{s.ip ?? "–"}</td>
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
        <h2 id="identities-heading">Linked sign-ins</h2>
        {data.identities.length === 0 ? (
          <p>No Google or Apple sign-in is linked.</p>
        ) : (
          <TableRegion label="Linked sign-ins">
            <table>
              <caption class="visually-hidden">Linked sign-ins</caption>
              <thead>
                <tr>
                  <th scope="col">Provider</th>
                  <th scope="col">Email at the provider</th>
                  <th scope="col">Provider verified it</th>
                  <th scope="col">Linked</th>
                  <th scope="col">Last used</th>
                </tr>
              </thead>
              <tbody>
                {data.identities.map((i) => (
                  <tr key={i.id}>
                    <td>{i.provider}</td>
                    <td>{i.email ?? "–"}</td>
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
        <h2 id="factors-heading">Second factors</h2>
        {data.factors.length === 0 ? (
          <p>No second factor.</p>
        ) : (
          <TableRegion label="Second factors">
            <table>
              <caption class="visually-hidden">Second factors</caption>
              <thead>
                <tr>
                  <th scope="col">Kind</th>
                  <th scope="col">State</th>
                  <th scope="col">Enrolled</th>
                  <th scope="col">Confirmed</th>
                  <th scope="col">Last code used</th>
                </tr>
              </thead>
              <tbody>
                {data.factors.map((f) => (
                  <tr key={f.kind}>
                    <td>{f.kind === "totp" ? "authenticator app (TOTP)" : f.kind}</td>
                    <td>{f.status}</td>
                    <td>{utc(f.created_at)}</td>
                    <td>{utc(f.confirmed_at)}</td>
                    <td>{utc(f.last_used_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        )}
        <p>Recovery codes left: {data.recovery_codes_remaining}</p>
      </section>

      <section aria-labelledby="events-heading">
        <h2 id="events-heading">Recent events</h2>
        {events.error && (
          <p role="alert" class="error">
            {events.error}
          </p>
        )}
        {events.data && (
          <AuditTable events={events.data.events.filter((e) => !READS.has(e.event)).slice(0, 10)} caption="The account's newest events" />
        )}
        <p>
          Administrators' reads of the account are left out here.{" "}
          <a href={href("audit", { subject: user.email })}>Every event about this account</a>
        </p>
      </section>

      {confirming && (
        // One dialog per question: a new one never reuses the element of one still closing.
        <ConfirmDialog key={confirming.seq} confirmation={confirming} onClose={() => setConfirming((c) => (c === confirming ? null : c))} />
      )}
    </>
  );
}
