// Prints, as JSON, what `npm run codegen` would write, without writing it. A plain Node script:
// @graphql-codegen/cli needs ESM-only yargs, which jest's module loader cannot require.
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { generate, loadCodegenConfig } from "@graphql-codegen/cli";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const { config } = await loadCodegenConfig({ configFilePath: path.join(root, "codegen.yml") });
const outputs = await generate({ ...config, cwd: root, silent: true }, false);
process.stdout.write(
  JSON.stringify(outputs.map(({ filename, content }) => ({ filename, content }))),
);
