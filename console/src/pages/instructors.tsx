import { read, type Session } from "../api";
import { PageHeading } from "../components/heading";
import { useLoad } from "../load";
import { Pager, UserTable, usePages } from "./users";

/** The accounts that asked to be instructors (INSTRUCTOR_APPROVAL=required); each is decided on its own page. */
export function InstructorsPage({ session }: { session: Session }) {
  const pages = usePages("instructors");
  const list = useLoad(pages.cursor ?? "", () =>
    read(session.api.auth.admin.users.$get({ query: { requested_role: "instructor", cursor: pages.cursor, limit: "20" } })),
  );
  return (
    <>
      <PageHeading title="Instructor requests" />
      <p>Accounts that registered as instructors and wait for a decision. Open one to approve or refuse it.</p>
      {list.error && (
        <p role="alert" class="error">
          {list.error}
        </p>
      )}
      {list.data && <UserTable users={list.data.users} caption="Waiting for a decision" />}
      {list.loading && <p class="muted">Loading…</p>}
      <Pager
        label="Pages of requests"
        page={pages.page}
        hasNext={Boolean(list.data?.next_cursor)}
        onNext={() => list.data?.next_cursor && pages.next(list.data.next_cursor)}
        onPrevious={pages.previous}
      />
    </>
  );
}
