/** W6's results (workloads/w6-end-to-end.ts), as the JSON report and lib/report.ts read them. */
export type VariantKey =
  | "service-http"
  | "service-ws"
  | "peer"
  | "floor-http"
  | "floor-ws"
  | "floor-io-http"
  | "floor-io-ws";

/** What a send cost the server and the shared PostgreSQL and Redis, per send. */
export interface SendCosts {
  cpuMsPerSend: number;
  /** Of cpuMsPerSend, the kernel's part (system time). */
  systemCpuMsPerSend: number;
  cpuPercent: number;
  sqlPerSend: number;
  /** Commands the server process wrote, per send, and by name (per send). */
  redisPerSend: number;
  redisBy: Record<string, number>;
  /** The same from Redis's INFO commandstats (every client of the machine's Redis). */
  redisInfoPerSend: number;
  redisInfoBy: Record<string, number>;
  /** SQL statements by shape, per send. */
  sqlBy: Record<string, number>;
  postgresCpuMsPerSend: number;
  redisCpuMsPerSend: number;
}

/** What the receivers saw of a run of sends. */
interface Deliveries extends SendCosts {
  failed: number;
  lost: number;
  outOfOrder: number;
  /** Deliveries from the first (scheduled) send to the last delivery. */
  deliveriesPerSecond: number;
  p50: number;
  p99: number;
  ackP99: number;
}

export interface E2eStep extends Deliveries {
  rate: number;
  issued: number;
  ackP50: number;
  /** How late the load generators issued their last send (their own lag). */
  lateMs: number;
  loadgenCpuPercent: number;
  ok: boolean;
}

export interface E2eVariant {
  key: VariantKey;
  name: string;
  runs: E2eStep[][];
  /** Per run: the highest rate with p99 ≤ 50 ms, nothing failed or lost, ≥ 95% achieved. */
  maxRate: number[];
  /** Per run: the most deliveries per second of any step. */
  maxDeliveries: number[];
}

export interface RoomRun extends Deliveries {
  sends: number;
}

export interface EndToEndResult {
  pairs: number;
  durationMs: number;
  rates: number[];
  p99LimitMs: number;
  textLength: number;
  /** Per system, with the W6a connections open and nothing sent: its background work. */
  idle: Record<string, { cpuPercent: number; sqlPerSecond: number; redisPerSecond: number }>;
  variants: E2eVariant[];
  room: {
    members: number;
    senders: number;
    sends: number;
    variants: Array<{ key: VariantKey; name: string; runs: RoomRun[] }>;
  };
}
