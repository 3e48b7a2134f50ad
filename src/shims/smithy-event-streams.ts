/**
 * `@smithy/core/event-streams` as the Worker's S3 client needs it. S3 streams events only for
 * SelectObjectContent, which the Worker never sends; the client still wires a marshaller up when
 * it is built, and its protocol imports the codecs on first use (~15 KiB minified). Aliased in
 * wrangler.toml to this module: the config resolver is the package's own, and anything that would
 * read or write an event stream throws. test/node/s3-shims.test.ts checks the names.
 */
// @ts-expect-error plain ESM file of the package, typed by the package's index
export { resolveEventStreamSerdeConfig } from "../../node_modules/@smithy/core/dist-es/submodules/event-streams/eventstream-serde-config-resolver/EventStreamSerdeConfig.js";

const notBundled = (): never => {
  throw new Error("S3 event streams are not bundled in this Worker (src/shims/smithy-event-streams.ts)");
};

/** Stands in for the browser build's marshaller: built with the client, never used. */
export const eventStreamSerdeProvider = () => ({ serialize: notBundled, deserialize: notBundled });

export class EventStreamSerde {
  constructor() {
    notBundled();
  }
}
