// Type-checks the console's own files (console/src) as browser code (the DOM library), against the
// API's route types it imports through src/client.ts. The API's files themselves are checked by
// the root project, in their own environment (workerd); checked here under the DOM library they
// would report differences of the two environments' typings (BufferSource), not errors of theirs.
//
//   node console/typecheck.ts        (part of npm run typecheck)
import path from "node:path";
import ts from "typescript";

const here = import.meta.dirname;
const configFile = path.join(here, "tsconfig.json");
const read = ts.readConfigFile(configFile, ts.sys.readFile);
const config = ts.parseJsonConfigFileContent(read.config, ts.sys, here);
const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
const own = (f: ts.SourceFile) => path.resolve(f.fileName).startsWith(path.join(here, "src") + path.sep);
const diagnostics = [
  ...program.getOptionsDiagnostics(),
  ...program.getGlobalDiagnostics(),
  ...program
    .getSourceFiles()
    .filter(own)
    .flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
];
if (diagnostics.length) {
  const host = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => "\n" };
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
}
