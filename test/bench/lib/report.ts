import { fmt, ratio, table } from "./report-table";
import { printW6 } from "./report-w6";
import { median } from "./stats";

export { w6ReferenceRate } from "./report-w6";

export function printReport(report: any) {
  const { machine, results, options } = report;
  console.log("");
  console.log(
    `Machine: ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB; ${machine.os}; Node ${machine.node}; PostgreSQL ${machine.postgres}; Redis ${machine.redis}`,
  );
  console.log(
    `Medians of ${options.runs} run(s).${options.quick ? " Quick mode." : ""} Load average at start ${machine.loadAverage?.map((n: number) => n.toFixed(1)).join(" ") ?? "?"} (other work on the machine); a 10^8-iteration loop took ${machine.calibrationMs} ms (one core's speed then).`,
  );
  console.log("");
  if (results.W6) printW6(results.W6);
  if (results.W1) printW1(results.W1);
  printRest(results);
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

export function printRest(results: any) {
  if (results.W2) printW2(results.W2);
  if (results.W3) printW3(results.W3);
  if (results.W4) printW4(results.W4);
  if (results.W5) printW5(results.W5);
}

function printW2(w2: any) {
  console.log(
    `W2 send path (sendMessage over HTTP, ${w2.pairs} senders, each into a conversation with a subscribed member)`,
  );
  const maxRate = median(w2.maxRate);
  const inserts = median(w2.insertsPerSecond);
  const at = (rate: number, key: string) =>
    median(w2.runs.map((steps: any[]) => steps.find((s) => s.rate === rate)?.[key] ?? NaN));
  const rows: string[][] = [
    [
      "highest rate with p99 send→deliver ≤ 50 ms",
      `${fmt(maxRate)}/s`,
      `${fmt(inserts)} inserts/s`,
      ratio(maxRate, inserts),
    ],
  ];
  const rates = [...new Set(w2.runs.flat().map((s: any) => s.rate as number))] as number[];
  for (const rate of rates.sort((a, b) => a - b)) {
    rows.push([
      `at ${rate}/s: achieved ${fmt(at(rate, "achieved"))}/s, p50 ${fmt(at(rate, "p50"), 1)} ms, p99 ${fmt(at(rate, "p99"), 1)} ms, CPU ${fmt(at(rate, "cpuMsPerSend"), 2)} ms/send, ${fmt(at(rate, "statementsPerSend"), 1)} SQL/send`,
      "",
      "",
      "",
    ]);
  }
  table(["figure", "service", "ceiling (single-row INSERTs, same pool)", "ratio"], rows);
}

function printW3(w3: any) {
  console.log(
    `W3 connections (${fmt(w3.connections)} graphql-ws connections, 2 subscriptions each, groups of ${w3.groupSize})`,
  );
  table(
    ["figure", "service", "ceiling: raw ws", "ratio", "peer: Socket.IO", "ratio"],
    [
      [
        "RSS per connection",
        `${fmt(w3.rssPerConnection / 1024, 1)} KB`,
        `${fmt(w3.rawWsRssPerConnection / 1024, 1)} KB`,
        ratio(w3.rssPerConnection, w3.rawWsRssPerConnection),
        `${fmt(w3.socketIoRssPerConnection / 1024, 1)} KB`,
        ratio(w3.rssPerConnection, w3.socketIoRssPerConnection),
      ],
      [
        `delivery at ${w3.rate} sends/s (${fmt(w3.rate * w3.groupSize)} deliveries/s)`,
        `p50 ${fmt(median(w3.p50), 1)} ms, p99 ${fmt(median(w3.p99), 1)} ms, lost ${w3.lost}`,
        "",
        "",
        "",
        "",
      ],
      [`connect and subscribe all`, `${fmt(w3.connectSeconds, 1)} s`, "", "", "", ""],
    ],
  );
}

function printW4(w4: any) {
  console.log(
    `W4 churn (${w4.churners} clients subscribe/unsubscribe every ${w4.periodMs} ms; ${w4.listeners} listeners receive ${w4.rate} sends/s)`,
  );
  const m = (phases: any[], key: string) => median(phases.map((p) => p[key]));
  table(
    ["figure", "with churn", "ceiling: same, no churn", "ratio"],
    [
      ["subscribe+unsubscribe operations/s", fmt(m(w4.churn, "operationsPerSecond")), "0", ""],
      [
        "service CPU",
        `${fmt(m(w4.churn, "cpuPercent"))}%`,
        `${fmt(m(w4.quiet, "cpuPercent"))}%`,
        ratio(m(w4.churn, "cpuPercent"), m(w4.quiet, "cpuPercent")),
      ],
      [
        "delivery p50",
        `${fmt(m(w4.churn, "p50"), 1)} ms`,
        `${fmt(m(w4.quiet, "p50"), 1)} ms`,
        ratio(m(w4.churn, "p50"), m(w4.quiet, "p50")),
      ],
      [
        "delivery p99",
        `${fmt(m(w4.churn, "p99"), 1)} ms`,
        `${fmt(m(w4.quiet, "p99"), 1)} ms`,
        ratio(m(w4.churn, "p99"), m(w4.quiet, "p99")),
      ],
      [
        "lost / error frames",
        `${w4.churn.reduce((n: number, p: any) => n + p.lost, 0)} / ${w4.churn.reduce((n: number, p: any) => n + p.errors, 0)}`,
        `${w4.quiet.reduce((n: number, p: any) => n + p.lost, 0)} / 0`,
        "",
      ],
    ],
  );
}

function printW5(w5: any) {
  console.log(
    `W5 history (${fmt(w5.messages)}-message conversation; inbox of ${fmt(w5.inboxConversations)} conversations; ${w5.requests} sequential requests; server time = request to last byte inside the service)`,
  );
  table(
    [
      "query",
      "server p50",
      "server p99",
      "SQL statements (page 10/50/100)",
      "ceiling: main SQL alone p50 / p99",
      "p99 ratio",
    ],
    w5.cases.map((c: any) => [
      c.name,
      `${fmt(c.p50, 2)} ms`,
      `${fmt(c.p99, 2)} ms`,
      `${c.statements[10]} / ${c.statements[50]} / ${c.statements[100]}`,
      `${fmt(c.sqlP50, 2)} / ${fmt(c.sqlP99, 2)} ms`,
      ratio(c.p99, c.sqlP99),
    ]),
  );
}
