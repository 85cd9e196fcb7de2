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
  console.log(
    `Medians of ${options.runs} run(s).${options.quick ? " Quick mode." : ""} Load average at start ${machine.loadAverage?.map((n: number) => n.toFixed(1)).join(" ") ?? "?"} (other work on the machine); a 10^8-iteration loop took ${machine.calibrationMs} ms (one core's speed then).`,
  );
  console.log("");
  if (results.W6) printW6(results.W6);
  if (results.W1) printW1(results.W1);
  printRest(results);
}

/** The rate whose costs the W6a summary compares: 500/s, or the nearest tried below it. */
export function w6ReferenceRate(w6: any): number {
  const below = (w6.rates as number[]).filter((r) => r <= 500);
  return below.length ? Math.max(...below) : Math.min(...w6.rates);
}

const perSendList = (by: Record<string, number> | undefined, top = 6) =>
  Object.entries(by ?? {})
    .filter(([, n]) => n >= 0.005)
    .slice(0, top)
    .map(([k, n]) => `${n.toFixed(2)} ${k.length > 70 ? `${k.slice(0, 70)}…` : k}`)
    .join("; ") || "none";

function printW6(w6: any) {
  const variants: any[] = w6.variants;
  const peer = variants.find((v) => v.key === "peer");
  const reference = w6ReferenceRate(w6);
  const at = (v: any, rate: number, key: string) =>
    median(v.runs.map((steps: any[]) => steps.find((s) => s.rate === rate)?.[key] ?? NaN));
  console.log(
    `W6a end to end, DMs (${w6.pairs} DIRECT conversations, one sender and one subscribed receiver each; open-loop sends of ~${w6.textLength} characters, ${w6.durationMs / 1000} s a step; latency from the scheduled send time to receipt)`,
  );
  table(
    [
      "variant",
      `highest rate, p99 ≤ ${w6.p99LimitMs} ms`,
      "vs peer",
      "most delivered/s",
      "vs peer",
      `server CPU/send at ${reference}/s`,
      "vs peer",
      "SQL/send",
      "Redis cmds/send",
    ],
    variants.map((v) => [
      v.name,
      median(v.maxRate)
        ? `${fmt(median(v.maxRate))}/s`
        : `none of ${Math.min(...w6.rates)}/s and up`,
      peer && v !== peer ? ratio(median(v.maxRate), median(peer.maxRate)) : "",
      fmt(median(v.maxDeliveries)),
      peer && v !== peer ? ratio(median(v.maxDeliveries), median(peer.maxDeliveries)) : "",
      `${fmt(at(v, reference, "cpuMsPerSend"), 2)} ms`,
      peer && v !== peer
        ? ratio(at(v, reference, "cpuMsPerSend"), at(peer, reference, "cpuMsPerSend"))
        : "",
      fmt(at(v, reference, "sqlPerSend"), 2),
      fmt(at(v, reference, "redisPerSend"), 2),
    ]),
  );
  const rows: string[][] = [];
  for (const v of variants) {
    const rates = [...new Set(v.runs.flat().map((s: any) => s.rate as number))] as number[];
    for (const rate of rates.sort((a, b) => a - b)) {
      const sumOf = (key: string) =>
        v.runs.reduce(
          (n: number, steps: any[]) => n + (steps.find((s) => s.rate === rate)?.[key] ?? 0),
          0,
        );
      rows.push([
        v.name,
        `${fmt(rate)}/s`,
        fmt(at(v, rate, "deliveriesPerSecond")),
        `${fmt(at(v, rate, "p50"), 1)} / ${fmt(at(v, rate, "p99"), 1)}`,
        `${sumOf("failed")} / ${sumOf("lost")} / ${sumOf("outOfOrder")}`,
        `${fmt(at(v, rate, "cpuMsPerSend"), 2)} ms (${fmt(at(v, rate, "cpuPercent"))}%)`,
        fmt(at(v, rate, "sqlPerSend"), 2),
        `${fmt(at(v, rate, "redisPerSend"), 2)} / ${fmt(at(v, rate, "redisInfoPerSend"), 2)}`,
        `${fmt(at(v, rate, "postgresCpuMsPerSend"), 2)} / ${fmt(at(v, rate, "redisCpuMsPerSend"), 3)} ms`,
      ]);
    }
  }
  table(
    [
      "variant",
      "rate asked",
      "delivered/s",
      "p50 / p99 ms",
      "failed / lost / out of order",
      "server CPU/send",
      "SQL/send",
      "Redis/send (server / INFO)",
      "PostgreSQL / Redis CPU/send",
    ],
    rows,
  );
  const idle = Object.entries(w6.idle ?? {}).map(
    ([name, i]: [string, any]) =>
      `${name} ${fmt(i.cpuPercent, 1)}% CPU, ${fmt(i.sqlPerSecond, 1)} SQL statements/s, ${fmt(i.redisPerSecond, 1)} Redis commands/s`,
  );
  if (idle.length) console.log(`With the connections open and nothing sent: ${idle.join("; ")}.`);
  console.log(`Per send at ${reference}/s, SQL statements by shape and Redis commands by name:`);
  for (const v of variants) {
    const step = v.runs[0]?.find((s: any) => s.rate === reference);
    if (!step) continue;
    console.log(`  ${v.name}: SQL ${perSendList(step.sqlBy)}`);
    console.log(`  ${" ".repeat(v.name.length)}  Redis ${perSendList(step.redisBy, 10)}`);
  }
  console.log("");

  const room = w6.room;
  const roomPeer = room.variants.find((v: any) => v.key === "peer");
  const m = (v: any, key: string) => median(v.runs.map((r: any) => r[key]));
  console.log(
    `W6b end to end, one room (1 GROUP of ${fmt(room.members)} members, all subscribed; ${room.sends} sends from ${room.senders} closed-loop senders; deliveries/s from the first send to the last delivery)`,
  );
  table(
    [
      "variant",
      "deliveries/s",
      "vs peer",
      "p50 / p99 send→receive",
      "failed / lost / out of order",
      "server CPU/send",
      "SQL/send",
      "Redis cmds/send",
    ],
    room.variants.map((v: any) => [
      v.name,
      fmt(m(v, "deliveriesPerSecond")),
      roomPeer && v !== roomPeer
        ? ratio(m(v, "deliveriesPerSecond"), m(roomPeer, "deliveriesPerSecond"))
        : "",
      `${fmt(m(v, "p50"), 1)} / ${fmt(m(v, "p99"), 1)} ms`,
      `${v.runs.reduce((n: number, r: any) => n + r.failed, 0)} / ${v.runs.reduce((n: number, r: any) => n + r.lost, 0)} / ${v.runs.reduce((n: number, r: any) => n + r.outOfOrder, 0)}`,
      `${fmt(m(v, "cpuMsPerSend"), 1)} ms`,
      fmt(m(v, "sqlPerSend"), 2),
      fmt(m(v, "redisPerSend"), 2),
    ]),
  );
  console.log("Per send, SQL statements by shape and Redis commands by name:");
  for (const v of room.variants) {
    const r = v.runs[0];
    if (!r) continue;
    console.log(`  ${v.name}: SQL ${perSendList(r.sqlBy)}`);
    console.log(`  ${" ".repeat(v.name.length)}  Redis ${perSendList(r.redisBy, 10)}`);
  }
  console.log("");
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
