import { median } from "./stats";

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "–";
const ratio = (a: number, b: number) =>
  Number.isFinite(a) && Number.isFinite(b) && b ? `${(a / b).toFixed(2)}×` : "–";

function table(headers: string[], rows: string[][]) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(headers));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of rows) console.log(line(row));
  console.log("");
}

export function printReport(report: any) {
  const { machine, results, options } = report;
  console.log("");
  console.log(
    `Machine: ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB; ${machine.os}; Node ${machine.node}; PostgreSQL ${machine.postgres}; Redis ${machine.redis}`,
  );
  console.log(`Medians of ${options.runs} run(s).${options.quick ? " Quick mode." : ""}`);
  console.log("");
  if (results.W1) printW1(results.W1);
}

function printW1(w1: any[]) {
  console.log(
    "W1 fan-out (deliveries/s in bursts; latency at a fixed rate = half the Socket.IO peer's throughput)",
  );
  const rows: string[][] = [];
  const shapes = [...new Set(w1.map((r) => r.shape))];
  for (const shape of shapes) {
    const of = (name: string) => w1.find((r) => r.shape === shape && r.system.startsWith(name));
    const raw = of("raw ws");
    const sio = of("Socket.IO");
    for (const r of w1.filter((x) => x.shape === shape)) {
      const rate = median(r.deliveriesPerSecond);
      rows.push([
        shape,
        r.system,
        fmt(rate),
        ratio(rate, median(raw?.deliveriesPerSecond ?? [])),
        ratio(rate, median(sio?.deliveriesPerSecond ?? [])),
        fmt(r.fixedRate),
        fmt(median(r.p50), 2),
        fmt(median(r.p99), 2),
        ratio(median(r.p99), median(sio?.p99 ?? [])),
        String(r.lost + r.lostAtRate),
      ]);
    }
  }
  table(
    [
      "shape",
      "system",
      "deliveries/s",
      "vs raw ws",
      "vs Socket.IO",
      "fixed rate/s",
      "p50 ms",
      "p99 ms",
      "p99 vs Socket.IO",
      "lost",
    ],
    rows,
  );
}
