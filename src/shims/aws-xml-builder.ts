/**
 * `@aws-sdk/xml-builder` as the Worker should see it. The package's "browser" field swaps its
 * pure-JS XML parser for one that needs DOMParser, which workerd lacks (aws/aws-sdk-js-v3#7375);
 * wrangler bundles with the browser conditions, so S3 error answers failed to parse. Aliased in
 * wrangler.toml to this module, which re-exports the package's own files, parser included, by
 * path, so no DOMParser polyfill has to be bundled.
 */
// @ts-expect-error plain ESM file of the package, typed by the package's index
export { XmlNode } from "../../node_modules/@aws-sdk/xml-builder/dist-es/XmlNode.js";
// @ts-expect-error see above
export { XmlText } from "../../node_modules/@aws-sdk/xml-builder/dist-es/XmlText.js";
// @ts-expect-error see above
export { parseXML } from "../../node_modules/@aws-sdk/xml-builder/dist-es/xml-parser.js";
