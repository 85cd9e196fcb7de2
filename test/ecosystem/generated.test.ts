import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { printSubgraphSdl } from "../../src/federation";

const ROOT = path.join(__dirname, "..", "..");

/** The first differing line, so a failure says where to look. */
function firstDifference(committed: string, generated: string): string {
  const left = committed.split("\n");
  const right = generated.split("\n");
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if (left[i] !== right[i]) {
      return `line ${i + 1}:\n  committed: ${left[i] ?? "<end>"}\n  generated: ${right[i] ?? "<end>"}`;
    }
  }
  return "";
}

describe("Generated files are current", () => {
  it("should have schema/subgraph.graphql as the subgraph serves it (run `npm run schema` when this fails)", async () => {
    const committed = readFileSync(path.join(ROOT, "schema", "subgraph.graphql"), "utf8");
    const generated = await printSubgraphSdl();
    if (committed !== generated) {
      throw new Error(
        "schema/subgraph.graphql is stale: run `npm run schema` and commit the result. First difference at " +
          firstDifference(committed, generated),
      );
    }
  });

  it("should have test/gql as codegen.yml generates it (run `npm run codegen` when this fails)", () => {
    // Codegen in memory, with codegen.yml as it is, in a child process (see the script).
    const outputs = JSON.parse(
      execFileSync(process.execPath, [path.join(ROOT, "test", "helpers", "codegen-outputs.mjs")], {
        cwd: ROOT,
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      }),
    ) as Array<{ filename: string; content: string }>;
    expect(outputs.length).toBeGreaterThan(0);
    const stale: string[] = [];
    for (const { filename, content } of outputs) {
      const file = path.resolve(ROOT, filename);
      const committed = readFileSync(file, "utf8");
      if (committed !== content) {
        stale.push(`${path.relative(ROOT, file)} at ${firstDifference(committed, content)}`);
      }
    }
    const expected = outputs.map((o) => path.basename(o.filename)).sort();
    expect(readdirSync(path.join(ROOT, "test", "gql")).sort()).toEqual(expected);
    if (stale.length) {
      throw new Error(
        `test/gql is stale: run \`npm run codegen\` and commit the result.\n${stale.join("\n")}`,
      );
    }
  });
});
