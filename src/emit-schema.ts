import "reflect-metadata";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { printSortedSchema } from "./schema";

const SCHEMA_PATH = path.join(__dirname, "..", "schema", "schema.graphql");

void printSortedSchema().then((sdl) => {
  writeFileSync(SCHEMA_PATH, sdl);
  console.log(`wrote ${path.relative(process.cwd(), SCHEMA_PATH)}`);
});
