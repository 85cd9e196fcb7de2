import "reflect-metadata";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { printSubgraphSdl } from "./federation";
import { printSortedSchema } from "./schema";

const SCHEMA_DIR = path.join(__dirname, "..", "schema");

/** schema.graphql is the API clients see; subgraph.graphql is what a federation gateway composes. */
const FILES: Array<[string, () => Promise<string>]> = [
  ["schema.graphql", printSortedSchema],
  ["subgraph.graphql", printSubgraphSdl],
];

void (async () => {
  for (const [name, print] of FILES) {
    const file = path.join(SCHEMA_DIR, name);
    writeFileSync(file, await print());
    console.log(`wrote ${path.relative(process.cwd(), file)}`);
  }
})();
