/**
 * Stand-in for `postal-mime`, which the `resend` SDK imports only to parse *inbound* mail
 * (`emails.receiving`), a feature this API never uses. Aliased in wrangler.toml to keep
 * ~70 KiB out of the Worker bundle; calling it fails loudly instead of silently.
 */
export default class PostalMime {
  static parse(): never {
    throw new Error("postal-mime is not bundled: inbound mail parsing is not used by this Worker");
  }
}
