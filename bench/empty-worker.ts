// Bench-only: the smallest Worker, with the app's compatibility settings. `npm run bench` runs
// `wrangler check startup` on it to show the startup floor of the runtime on this machine.
export default {
  fetch: () => new Response("ok"),
};
