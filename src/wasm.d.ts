/** A .wasm import is a compiled WebAssembly.Module (wrangler's CompiledWasm rule; workerd cannot compile bytes at run time). */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
