import { randomUUID } from "node:crypto";
import { encodeSeqCursor } from "../../../src/core/pagination";
import { median, quantile } from "../lib/stats";
import { profileFile, tokens, type Bench } from "./bench";

const MESSAGE_FIELDS = `id conversationId seq kind text clientMessageId createdAt editedAt deletedAt
  sender { id displayName } attachments { mediaId url mimeType name size width height }`;

const MESSAGES = `query($conversationId: ID!, $last: Int, $before: String) {
  messages(conversationId: $conversationId, last: $last, before: $before) {
    edges { cursor node { ${MESSAGE_FIELDS} } }
    pageInfo { hasPreviousPage startCursor }
  }
}`;

// The inbox query of test/operations/chat.graphql.
const CONVERSATIONS = `query($first: Int) {
  conversations(first: $first) {
    edges { cursor node {
      id kind title subject lastSeq lastActivityAt unreadCount
      participants { role lastReadSeq user { id displayName } }
      lastMessage { ${MESSAGE_FIELDS} }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export interface HistoryCase {
  name: string;
  p50: number;
  p99: number;
  /** SQL statements per request, by page size. */
  statements: Record<number, number>;
  /** The page's main SQL statement alone, run through pg: the database's share. */
  sqlP50: number;
  sqlP99: number;
  errors: number;
}

export interface HistoryResult {
  messages: number;
  inboxConversations: number;
  requests: number;
  cases: HistoryCase[];
}

interface Timing {
  durations: number[];
  statements: number[];
}

/** One query W5 times, with its page size as a parameter, and its main SQL statement. */
interface Case {
  name: string;
  token: string;
  query: string;
  variables: (size: number) => object;
  sql: string;
  params: unknown[];
}

/** The seeded W5 data: a long conversation its reader reads, and a user with a large inbox. */
interface Seeded {
  conversationId: string;
  readerToken: string;
  inboxUser: string;
  inboxToken: string;
}

/**
 * W5: a conversation of w5Messages messages seeded with generate_series; messages(last: 50) and a
 * `before` page in the middle of it; conversations(first: 50) for a user in 1,000 conversations.
 * Server time (request to last byte, inside the service), SQL statements per request.
 */
export async function history(bench: Bench): Promise<HistoryResult> {
  const { options } = bench;
  const seeded = await seed(bench);
  const url = bench.service.info.url as string;
  const requests = options.quick ? 100 : 300;
  const result: HistoryResult = {
    messages: options.w5Messages,
    inboxConversations: options.w5Inbox,
    requests,
    cases: [],
  };
  for (const [i, c] of casesOf(bench, seeded).entries()) {
    result.cases.push(await runCase(bench, url, c, i, requests));
  }
  return result;
}

async function seed(bench: Bench): Promise<Seeded> {
  const { options } = bench;
  const tag = randomUUID().slice(0, 6);
  const reader = `w5-${tag}-reader`;
  const writer = `w5-${tag}-writer`;
  const inboxUser = `w5-${tag}-inbox`;
  await bench.seeder.users([reader, writer, inboxUser]);
  const conversationId = await bench.seeder.group([writer, reader], "W5 history");
  let t = Date.now();
  await bench.seeder.history(conversationId, writer, options.w5Messages);
  bench.log(
    `  W5: ${options.w5Messages} messages seeded in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  t = Date.now();
  await bench.seeder.inbox(inboxUser, options.w5Inbox, 3);
  await bench.seeder.client.query("analyze");
  bench.log(
    `  W5: inbox of ${options.w5Inbox} conversations seeded in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  const [readerToken, inboxToken] = await tokens(bench, [reader, inboxUser]);
  return { conversationId, readerToken, inboxUser, inboxToken };
}

function casesOf(bench: Bench, seeded: Seeded): Case[] {
  const { options } = bench;
  const { conversationId, readerToken, inboxUser, inboxToken } = seeded;
  const middle = Math.floor(options.w5Messages / 2);
  return [
    {
      name: "messages(last: 50), newest page",
      token: readerToken,
      query: MESSAGES,
      variables: (size) => ({ conversationId, last: size }),
      sql: `select * from message where conversation_id = $1 order by seq desc limit 51`,
      params: [conversationId],
    },
    {
      name: `messages(last: 50, before: seq ${middle})`,
      token: readerToken,
      query: MESSAGES,
      variables: (size) => ({ conversationId, last: size, before: encodeSeqCursor(middle) }),
      sql: `select * from message where conversation_id = $1 and seq < $2 order by seq desc limit 51`,
      params: [conversationId, middle],
    },
    {
      name: `conversations(first: 50), ${options.w5Inbox} conversations`,
      token: inboxToken,
      query: CONVERSATIONS,
      variables: (size) => ({ first: size }),
      sql: `select c.* from participant p join conversation c on c.id = p.conversation_id
             where p.user_id = $1 and p.left_at is null
             order by c.last_activity_at desc, c.id desc limit 51`,
      params: [inboxUser],
    },
  ];
}

/** The case's server time over `requests`, its statements per page size, its SQL alone. */
async function runCase(
  bench: Bench,
  url: string,
  c: Case,
  i: number,
  requests: number,
): Promise<HistoryCase> {
  const { options } = bench;
  if (options.profile) await bench.service.call("profileStart");
  const { timing, errors } = await measure(bench, url, c, requests);
  if (options.profile) {
    await bench.service.call("profileStop", { file: profileFile(bench, `w5-case${i + 1}`) });
  }
  const statements: Record<number, number> = {};
  for (const size of [10, 50, 100]) {
    const one = await measure(bench, url, c, 5, size);
    statements[size] = median(one.timing.statements);
  }
  const sql = await sqlTime(bench, c.sql, c.params, requests);
  const entry: HistoryCase = {
    name: c.name,
    p50: quantile(timing.durations, 0.5),
    p99: quantile(timing.durations, 0.99),
    statements,
    sqlP50: quantile(sql, 0.5),
    sqlP99: quantile(sql, 0.99),
    errors,
  };
  bench.log(
    `  W5 ${c.name}: server p50 ${entry.p50.toFixed(2)} ms p99 ${entry.p99.toFixed(2)} ms; statements ${JSON.stringify(statements)}; SQL alone p50 ${entry.sqlP50.toFixed(2)} ms p99 ${entry.sqlP99.toFixed(2)} ms; errors ${errors}`,
  );
  return entry;
}

async function post(url: string, token: string, query: string, variables: object) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { errors?: unknown[] };
  return response.status === 200 && !body.errors;
}

/** 20 unmeasured requests, then `count` timed inside the service. */
async function measure(bench: Bench, url: string, c: Case, count: number, size = 50) {
  for (let i = 0; i < 20; i++) await post(url, c.token, c.query, c.variables(size));
  await bench.service.call("startTiming");
  let errors = 0;
  for (let i = 0; i < count; i++) {
    if (!(await post(url, c.token, c.query, c.variables(size)))) errors++;
  }
  const timing = await bench.service.call<Timing>("stopTiming");
  return { timing, errors };
}

async function sqlTime(bench: Bench, sql: string, params: unknown[], requests: number) {
  for (let i = 0; i < 20; i++) await bench.seeder.client.query(sql, params);
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const t0 = performance.now();
    await bench.seeder.client.query(sql, params);
    times.push(performance.now() - t0);
  }
  return times;
}
