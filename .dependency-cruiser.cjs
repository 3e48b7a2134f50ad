// `npm run lint:deps` (dependency-cruiser): the shape of src/'s imports, checked in CI.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "No import cycles in src/ (type-only imports count: a cycle through types is still a tangle).",
      from: {},
      to: { circular: true },
    },
    {
      name: "lib-is-the-ground-floor",
      severity: "error",
      comment: "src/lib/ holds plain helpers (bytes, IP/CIDR, URLs, constant-time compare): it imports nothing else from the app.",
      from: { path: "^src/lib/" },
      to: { path: "^src/", pathNot: "^src/lib/" },
    },
    {
      name: "config-below-features",
      severity: "error",
      comment: "The settings (src/config.ts) do not import from the features that read them.",
      from: { path: "^src/config\\.ts$" },
      to: { path: "^src/(auth|oauth|middleware)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default", "types"] },
  },
};
