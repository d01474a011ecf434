// Typed operations from the committed schema: the admin's operations live in graphql/operations/ beside everyone
// else's, so a schema change that breaks one fails `npm run typecheck` (and the build) here.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../../graphql/schema.graphql",
  documents: "../../../graphql/operations/*.graphql",
  generates: {
    "src/gql/graphql.ts": {
      plugins: ["typescript", "typescript-operations", "typed-document-node"],
      config: {
        scalars: { DateTime: "string", BigInt: "number | string", JSON: "unknown" },
        enumsAsTypes: true,
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
        dedupeFragments: true,
        useTypeImports: true,
      },
    },
    // Graphcache needs the schema's unions and interfaces to match fragments on typed results.
    "src/gql/introspection.ts": { plugins: ["urql-introspection"], config: { module: "es2015", minify: true, useTypeImports: true } },
  },
  silent: true,
  errorsOnly: true,
};

export default config;
