import { read, type Session } from "../api";
import { PageHeading } from "../components/heading";
import { t } from "../i18n";
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
      <PageHeading title={t("instructors.title")} />
      <p>{t("instructors.intro")}</p>
      {list.error && (
        <p role="alert" class="error">
          {list.error}
        </p>
      )}
      {list.data && <UserTable users={list.data.users} caption={t("instructors.caption")} />}
      {list.loading && <p class="muted">{t("loading")}</p>}
      <Pager
        label={t("instructors.pages")}
        page={pages.page}
        hasNext={Boolean(list.data?.next_cursor)}
        onNext={() => list.data?.next_cursor && pages.next(list.data.next_cursor)}
        onPrevious={pages.previous}
      />
    </>
  );
}
