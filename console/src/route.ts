import { useEffect, useState } from "preact/hooks";

/**
 * Pages live in the URL's fragment (`/console/#/users/<id>`): the Worker's static assets serve one
 * file, /console/index.html, and every other path stays the API's (its JSON 404s included).
 */
export type Route =
  | { page: "users"; query: URLSearchParams }
  | { page: "user"; id: string }
  | { page: "instructors"; query: URLSearchParams }
  | { page: "audit"; query: URLSearchParams };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parseRoute(hash: string): Route {
  const [path, search = ""] = hash.replace(/^#/, "").split("?", 2);
  const query = new URLSearchParams(search);
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "users" && parts[1] && UUID.test(parts[1])) return { page: "user", id: parts[1].toLowerCase() };
  if (parts[0] === "instructors") return { page: "instructors", query };
  if (parts[0] === "audit") return { page: "audit", query };
  return { page: "users", query };
}

/** The fragment of a page, with its query (empty values left out). */
export function href(path: string, query: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => Boolean(e[1])));
  const s = q.toString();
  return `#/${path}${s ? `?${s}` : ""}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
