import fs from "node:fs";
import path from "node:path";

/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by package, so a
 * bench run's profile can be read without a browser. Usage:
 *   ts-node --transpile-only test/bench/profile.ts bench-results/profiles/<file>.cpuprofile [top]
 */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

export function summarise(file: string, top = 25): string {
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as Profile;
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)),
  );
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    if (!us) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url.replace(/^file:\/\//, "").replace(process.cwd() + "/", "");
    const name =
      `${functionName || "(anonymous)"} ${where ? `${path.basename(where)}:${lineNumber + 1}` : ""}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where)?.[1] ??
      (where.startsWith("src/")
        ? `app ${where.split("/").slice(0, 3).join("/")}`
        : where
          ? where.startsWith("node:")
            ? "node internals"
            : where
          : functionName.startsWith("(")
            ? functionName
            : "native");
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const lines = [
    `${path.basename(file)}: ${(total / 1e6).toFixed(1)} s sampled`,
    "",
    "self time by package:",
  ];
  for (const [name, us] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`  ${pct(us)}  ${name}`);
  lines.push("", "self time by function:");
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`  ${pct(us)}  ${name}`);
  return lines.join("\n");
}

if (require.main === module) {
  console.log(summarise(process.argv[2], Number(process.argv[3] ?? 25)));
}
