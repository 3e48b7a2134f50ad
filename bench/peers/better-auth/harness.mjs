// What the peer borrows from our bench harness (scripts/stack, scripts/bench), in one place: when
// those modules move, only these paths change. Nothing here is edited, only imported (Node runs
// the TypeScript modules as they are: type stripping, as for every script of the repository).

export { cpuProbe, diffCpu, postmasterPid, procAvailable, readStat } from "../../../scripts/bench/proc-cpu.ts";
export { freePort, ROOT } from "../../../scripts/stack/local-service.ts";
export { startPostgres } from "../../../scripts/stack/postgres.ts";
export { freezeWorker, startWranglerDev } from "../../../scripts/stack/wrangler-dev.ts";
