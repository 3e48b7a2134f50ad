// What the peer borrows from our bench harness (scripts/lib), in one place: when those modules
// move, only these paths change. Nothing here is edited, only imported.

export { freePort } from "../../../scripts/lib/local-service.mjs";
export { startPostgres } from "../../../scripts/lib/postgres.mjs";
export { cpuProbe, diffCpu, postmasterPid, procAvailable, readStat } from "../../../scripts/lib/proc-cpu.mjs";
export { freezeWorker, ROOT, startWranglerDev } from "../../../scripts/lib/wrangler-dev.mjs";
