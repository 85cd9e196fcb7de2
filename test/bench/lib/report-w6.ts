import { fmt, ratio, table } from "./report-table";
import { median } from "./stats";

/** W6's part of the report (lib/report.ts), from the JSON results of workloads/w6-end-to-end.ts. */

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

/** The variant's median over runs of the step at `rate`'s `key`. */
const at = (v: any, rate: number, key: string) =>
  median(v.runs.map((steps: any[]) => steps.find((s) => s.rate === rate)?.[key] ?? NaN));

export function printW6(w6: any) {
  printW6aSummary(w6);
  printW6aSteps(w6.variants);
  printW6aPerSend(w6);
  printW6b(w6.room);
}

/** Per variant: how far it went, and what a send cost at the reference rate, against the peer. */
function printW6aSummary(w6: any) {
  const variants: any[] = w6.variants;
  const peer = variants.find((v) => v.key === "peer");
  const reference = w6ReferenceRate(w6);
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
}

/** Every step of every variant's ladder, by rate. */
function printW6aSteps(variants: any[]) {
  const rows: string[][] = [];
  for (const v of variants) {
    const rates = [...new Set(v.runs.flat().map((s: any) => s.rate as number))] as number[];
    for (const rate of rates.sort((a, b) => a - b)) rows.push(stepRow(v, rate));
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
}

function stepRow(v: any, rate: number): string[] {
  const sumOf = (key: string) =>
    v.runs.reduce(
      (n: number, steps: any[]) => n + (steps.find((s) => s.rate === rate)?.[key] ?? 0),
      0,
    );
  return [
    v.name,
    `${fmt(rate)}/s`,
    fmt(at(v, rate, "deliveriesPerSecond")),
    `${fmt(at(v, rate, "p50"), 1)} / ${fmt(at(v, rate, "p99"), 1)}`,
    `${sumOf("failed")} / ${sumOf("lost")} / ${sumOf("outOfOrder")}`,
    `${fmt(at(v, rate, "cpuMsPerSend"), 2)} ms (${fmt(at(v, rate, "cpuPercent"))}%)`,
    fmt(at(v, rate, "sqlPerSend"), 2),
    `${fmt(at(v, rate, "redisPerSend"), 2)} / ${fmt(at(v, rate, "redisInfoPerSend"), 2)}`,
    `${fmt(at(v, rate, "postgresCpuMsPerSend"), 2)} / ${fmt(at(v, rate, "redisCpuMsPerSend"), 3)} ms`,
  ];
}

/** The systems' idle work, and the first run's SQL and Redis per send at the reference rate. */
function printW6aPerSend(w6: any) {
  const reference = w6ReferenceRate(w6);
  const idle = Object.entries(w6.idle ?? {}).map(
    ([name, i]: [string, any]) =>
      `${name} ${fmt(i.cpuPercent, 1)}% CPU, ${fmt(i.sqlPerSecond, 1)} SQL statements/s, ${fmt(i.redisPerSecond, 1)} Redis commands/s`,
  );
  if (idle.length) console.log(`With the connections open and nothing sent: ${idle.join("; ")}.`);
  console.log(`Per send at ${reference}/s, SQL statements by shape and Redis commands by name:`);
  for (const v of w6.variants) {
    const step = v.runs[0]?.find((s: any) => s.rate === reference);
    if (!step) continue;
    printPerSend(v.name, step);
  }
  console.log("");
}

function printPerSend(name: string, costs: any) {
  console.log(`  ${name}: SQL ${perSendList(costs.sqlBy)}`);
  console.log(`  ${" ".repeat(name.length)}  Redis ${perSendList(costs.redisBy, 10)}`);
}

function printW6b(room: any) {
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
    printPerSend(v.name, r);
  }
  console.log("");
}
