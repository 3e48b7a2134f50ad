// Run the local mail capture server on its own:  node scripts/mail-capture.mjs
// Port MAIL_CAPTURE_PORT (default 8025). Point the Worker at it with RESEND_BASE_URL.
import { startMailCapture } from "./lib/mail-capture.mjs";

const port = Number(process.env.MAIL_CAPTURE_PORT ?? 8025);
const capture = await startMailCapture({ port, host: process.env.MAIL_CAPTURE_HOST ?? "127.0.0.1" });
console.log(`mail capture: inbox ${capture.url}/  (JSON ${capture.url}/emails; set RESEND_BASE_URL=${capture.url})`);

const stop = async () => {
  await capture.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
