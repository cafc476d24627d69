// Module resolution hook for scripts/typedoc.mjs: TypeDoc imports 'typescript' for its JavaScript API, which
// TypeScript 7 (the project's tsc) no longer ships; this sends those imports to the typescript-api alias
// (npm:typescript@5.9.x). Only imports of exactly 'typescript' are redirected.
export async function resolve(specifier, context, next) {
  if (specifier === 'typescript') return next('typescript-api', context);
  return next(specifier, context);
}
