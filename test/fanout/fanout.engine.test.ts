import { buildSchema, GraphQLError, type ExecutionArgs, type GraphQLObjectType } from "graphql";
import { AsyncQueue, EventSource } from "../../src/core/async-queue";
import { Fanout } from "../../src/core/fanout";

/**
 * The delivery engine on a schema of its own, with sockets that record frames: how many times a
 * selection is executed, who gets which frame, and where errors go.
 */
const schema = buildSchema(`
  type Query { ok: Boolean }
  type Event { id: ID! text: String! secret: String! flaky: String! }
  type Subscription { events(topic: String): Event! }
`);

interface Viewer {
  id: string;
}
interface Ctx {
  viewer: Viewer;
  queue: AsyncQueue<object>;
}

const calls = { text: 0, secret: 0, flaky: 0 };
let flakyFailures = 0;
const fields = (schema.getType("Event") as GraphQLObjectType).getFields();
fields.text.resolve = (event: { text: string }) => {
  calls.text++;
  return event.text;
};
// Depends on who asks: executed per viewer, and refused to mallory.
fields.secret.resolve = (event: { text: string }, _args, ctx: Ctx) => {
  calls.secret++;
  if (ctx.viewer.id === "mallory") throw new GraphQLError("not for you");
  return `${event.text} for ${ctx.viewer.id}`;
};
// Shared, but fails while flakyFailures lasts.
fields.flaky.resolve = (event: { text: string }) => {
  calls.flaky++;
  if (flakyFailures > 0) {
    flakyFailures--;
    throw new GraphQLError("flaky");
  }
  return event.text;
};
const subscription = (schema.getType("Subscription") as GraphQLObjectType).getFields().events;
subscription.subscribe = (_root, _args, ctx: Ctx) => new EventSource(ctx.queue, { renew() {} });
subscription.resolve = (event: unknown) => event;

const SHARED: Record<string, string[]> = {
  Subscription: ["events"],
  Event: ["id", "text", "flaky"],
};

class FakeSocket {
  readyState = 1;
  bufferedAmount = 0;
  frames: string[] = [];
  send(data: Buffer | string) {
    this.frames.push(String(data));
  }
}

function fanout() {
  return new Fanout<Ctx>({
    schema,
    isShared: (type, field) => SHARED[type]?.includes(field) ?? false,
    viewerKey: (ctx) => ctx.viewer.id,
    eventContext: (ctx) => ({ ...ctx }),
  });
}

/** Subscribes like graphql-ws would: onSubscribe, the context, then subscribe. */
async function subscribe(
  engine: Fanout<Ctx>,
  viewer: string,
  query: string,
  variables: Record<string, unknown> = {},
  id = "1",
) {
  const socket = new FakeSocket();
  const queue = new AsyncQueue<object>();
  const args = engine.onSubscribe({ extra: { socket: socket as never } }, id, {
    query,
    variables,
  }) as ExecutionArgs;
  args.contextValue = { viewer: { id: viewer }, queue } satisfies Ctx;
  const iterator = (await engine.subscribe(args)) as AsyncIterableIterator<any>;
  return { socket, queue, iterator, id };
}

const TEXT = `subscription($topic: String) { events(topic: $topic) { id text } }`;
const SECRET = `subscription { events { id secret } }`;
const FLAKY = `subscription { events { id flaky } }`;
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("Fanout", () => {
  beforeEach(() => {
    calls.text = calls.secret = calls.flaky = 0;
    flakyFailures = 0;
  });

  it("should execute once per event for subscribers with the same document and variables, and send each the same frame with its own id", async () => {
    const engine = fanout();
    const subs = await Promise.all(
      ["alice", "bob", "carol"].map((v, i) => subscribe(engine, v, TEXT, { topic: "t" }, `s${i}`)),
    );
    const event = { id: "e1", text: "hello" };
    for (const sub of subs) sub.queue.push(event);
    await flush();

    expect(calls.text).toBe(1);
    subs.forEach((sub) => {
      expect(sub.socket.frames).toEqual([
        `{"id":"${sub.id}","type":"next","payload":{"data":{"events":{"id":"e1","text":"hello"}}}}`,
      ]);
    });
  });

  it("should not merge subscriptions whose variables or documents differ", async () => {
    const engine = fanout();
    const a = await subscribe(engine, "alice", TEXT, { topic: "t" });
    const b = await subscribe(engine, "bob", TEXT, { topic: "u" });
    const c = await subscribe(engine, "carol", `subscription { events { text } }`);
    const event = { id: "e1", text: "hello" };
    for (const sub of [a, b, c]) sub.queue.push(event);
    await flush();

    expect(calls.text).toBe(3);
    expect(a.socket.frames).toEqual(b.socket.frames);
    expect(c.socket.frames).toEqual([
      `{"id":"1","type":"next","payload":{"data":{"events":{"text":"hello"}}}}`,
    ]);
  });

  it("should group a selection that depends on the viewer per viewer", async () => {
    const engine = fanout();
    const alice1 = await subscribe(engine, "alice", SECRET, {}, "a1");
    const alice2 = await subscribe(engine, "alice", SECRET, {}, "a2");
    const bob = await subscribe(engine, "bob", SECRET);
    const event = { id: "e1", text: "hi" };
    for (const sub of [alice1, alice2, bob]) sub.queue.push(event);
    await flush();

    expect(calls.secret).toBe(2);
    expect(alice1.socket.frames[0]).toContain('"secret":"hi for alice"');
    expect(alice2.socket.frames[0]).toContain('"secret":"hi for alice"');
    expect(bob.socket.frames[0]).toContain('"secret":"hi for bob"');
  });

  it("should deliver nothing to a subscriber whose feed does not push the event", async () => {
    const engine = fanout();
    const member = await subscribe(engine, "alice", TEXT, { topic: "t" });
    const removed = await subscribe(engine, "bob", TEXT, { topic: "t" });
    // The removed member's feed ends instead of pushing (its audience check failed).
    removed.queue.end();
    member.queue.push({ id: "e1", text: "members only" });
    await flush();

    expect(member.socket.frames).toHaveLength(1);
    expect(removed.socket.frames).toEqual([]);
    await expect(removed.iterator.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it("should keep errors per subscriber and hand them to graphql-ws", async () => {
    const engine = fanout();
    const alice = await subscribe(engine, "alice", SECRET);
    const mallory = await subscribe(engine, "mallory", SECRET);
    const event = { id: "e1", text: "hi" };
    alice.queue.push(event);
    mallory.queue.push(event);
    await flush();

    expect(alice.socket.frames).toHaveLength(1);
    expect(mallory.socket.frames).toEqual([]);
    const { value } = await mallory.iterator.next();
    expect(value.errors.map((e: GraphQLError) => e.message)).toEqual(["not for you"]);
    expect(value.data).toBeNull();
  });

  it("should execute apart for each subscriber when the shared result had errors, in order", async () => {
    const engine = fanout();
    const a = await subscribe(engine, "alice", FLAKY, {}, "a");
    const b = await subscribe(engine, "bob", FLAKY, {}, "b");
    flakyFailures = 2; // the group's execution of e1, then alice's own
    const first = { id: "e1", text: "one" };
    for (const sub of [a, b]) sub.queue.push(first);
    await flush();
    const second = { id: "e2", text: "two" };
    for (const sub of [a, b]) sub.queue.push(second);
    await flush();

    // e1 reaches each through graphql-ws (masking, onNext): an error for alice, data for bob.
    const aliceFirst = await a.iterator.next();
    expect(aliceFirst.value.errors.map((e: GraphQLError) => e.message)).toEqual(["flaky"]);
    const bobFirst = await b.iterator.next();
    expect(bobFirst.value).toEqual({ data: { events: { id: "e1", flaky: "one" } } });
    // e2 waits until graphql-ws has sent e1 and asks for more.
    expect(a.socket.frames).toEqual([]);
    const pending = [a.iterator.next(), b.iterator.next()];
    await flush();
    expect(a.socket.frames).toEqual([
      `{"id":"a","type":"next","payload":{"data":{"events":{"id":"e2","flaky":"two"}}}}`,
    ]);
    expect(b.socket.frames).toEqual([
      `{"id":"b","type":"next","payload":{"data":{"events":{"id":"e2","flaky":"two"}}}}`,
    ]);
    // e1: the group's try and one each; e2: once for both.
    expect(calls.flaky).toBe(4);
    await Promise.all([a.iterator.return!(), b.iterator.return!()]);
    await expect(Promise.all(pending)).resolves.toEqual([
      { value: undefined, done: true },
      { value: undefined, done: true },
    ]);
  });

  it("should parse and validate a repeated document once", async () => {
    const engine = fanout();
    const socket = { extra: { socket: new FakeSocket() as never } };
    const first = engine.onSubscribe(socket, "1", { query: TEXT }) as ExecutionArgs;
    const second = engine.onSubscribe(socket, "2", { query: TEXT }) as ExecutionArgs;
    expect(second.document).toBe(first.document);
    const invalid = engine.onSubscribe(socket, "3", { query: "subscription { nope }" });
    expect(Array.isArray(invalid)).toBe(true);
    // A syntax error is an answer coded as over HTTP, not a throw (graphql-ws would close with 4500).
    const syntax = engine.onSubscribe(socket, "4", { query: "subscription {" });
    expect(syntax).toEqual([
      expect.objectContaining({
        message: expect.stringContaining("Syntax Error"),
        extensions: { code: "GRAPHQL_PARSE_FAILED" },
      }),
    ]);
  });
});
