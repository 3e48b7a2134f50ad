import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Admin, Session } from "./api";
import { ReauthDialog } from "./components/reauth";
import { describeDuration } from "./format";
import { t } from "./i18n";
import { loadConfig, watchIdle } from "./idle";
import { AuditPage } from "./pages/audit";
import { InstructorsPage } from "./pages/instructors";
import { SignInPage } from "./pages/sign-in";
import { UserPage } from "./pages/user";
import { UsersPage } from "./pages/users";
import { type Route, useRoute } from "./route";
import type { Tokens } from "./sign-in";

type Pending = { seq: number; resolve: (tokens: Tokens | null) => void };
let reauthSeq = 0;

export function App() {
  const route = useRoute();
  const [idleSeconds, setIdleSeconds] = useState<number | null>(null);
  const [session, setSession] = useState<Session | null>(null);
  const [notice, setNotice] = useState("");
  const [reauth, setReauth] = useState<Pending | null>(null);

  useEffect(() => {
    void loadConfig().then((c) => setIdleSeconds(c.idleTimeoutSeconds));
  }, []);

  const signOut = async (why: string) => {
    if (!session) return;
    setReauth((p) => {
      p?.resolve(null);
      return null;
    });
    await session.signOut();
    setSession(null);
    setNotice(why);
  };

  const signOutNow = useRef(signOut);
  signOutNow.current = signOut;
  useEffect(() => {
    if (!session || idleSeconds === null) return;
    return watchIdle(idleSeconds, () => void signOutNow.current(t("console.idleSignedOut", { duration: describeDuration(idleSeconds) })));
  }, [session, idleSeconds]);

  const signedIn = (admin: Admin, tokens: Tokens) => {
    setNotice("");
    const reauthenticate = () => new Promise<Tokens | null>((resolve) => setReauth({ seq: ++reauthSeq, resolve }));
    const ended = () => {
      setReauth(null);
      setSession(null);
      setNotice(t("console.sessionEnded"));
    };
    setSession(new Session(admin, tokens, reauthenticate, ended));
  };

  if (!session) return <SignInPage notice={notice} onSignedIn={signedIn} />;
  return (
    <Layout route={route} admin={session.admin} onSignOut={() => void signOut(t("console.signedOut"))}>
      <Page route={route} session={session} />
      {reauth && (
        <ReauthDialog
          key={reauth.seq}
          admin={session.admin}
          onDone={(tokens) => {
            reauth.resolve(tokens);
            setReauth((p) => (p === reauth ? null : p));
          }}
        />
      )}
    </Layout>
  );
}

function Page({ route, session }: { route: Route; session: Session }) {
  switch (route.page) {
    case "user":
      return <UserPage key={route.id} session={session} id={route.id} />;
    case "instructors":
      return <InstructorsPage session={session} />;
    case "audit":
      return <AuditPage session={session} query={route.query} />;
    default:
      return <UsersPage session={session} query={route.query} />;
  }
}

function Layout({ route, admin, onSignOut, children }: { route: Route; admin: Admin; onSignOut: () => void; children: ComponentChildren }) {
  const main = useRef<HTMLElement>(null);
  const section = route.page === "user" ? "users" : route.page;
  const link = (page: string, text: string) => (
    <a href={`#/${page}`} aria-current={section === page ? "page" : undefined}>
      {text}
    </a>
  );
  return (
    <>
      <button type="button" class="skip" onClick={() => main.current?.focus()}>
        {t("console.skip")}
      </button>
      <header>
        <p class="brand">{t("console.name")}</p>
        <nav class="sections" aria-label={t("console.nav")}>
          {link("users", t("users.title"))}
          {link("instructors", t("instructors.title"))}
          {link("audit", t("audit.title"))}
        </nav>
        <div class="who">
          <span class="email">{admin.email}</span>
          <button type="button" onClick={onSignOut}>
            {t("console.signOut")}
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
