import { Hono } from "hono";

// Bench-only: a bare Hono app with one constant route and the app's compatibility settings
// (bench/wrangler.empty.toml). `npm run bench` serves it under the same wrangler dev as the app,
// in the same run, as the floor of the app's constant route; and runs `wrangler check startup`
// on it for the startup floor. Never deployed.
const app = new Hono();
app.get("/health/live", (c) => c.json({ status: "ok" }));

export default app;
