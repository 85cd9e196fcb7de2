import http from "node:http";
import net from "node:net";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { startChildServer, type ChildServer } from "../helpers/child";
import { MessageAddedDocument, SendMessageDocument } from "../gql/graphql";
import { Collector, sourceOf, waitForChannel, wsClient } from "../helpers/client";
import { eventually } from "../helpers/eventually";
import { createDirect } from "../helpers/operations";
import { testUser } from "../helpers/tokens";

/** True once nothing accepts connections on the port any more. */
const refusing = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });

describe("SIGTERM", () => {
  const env = testEnv();
  let child: ChildServer | null = null;
  let other: TestApp;

  beforeAll(async () => {
    [child, other] = await Promise.all([
      startChildServer({ ...env, PORT: "0" }),
      startTestApp(env),
    ]);
  });
  afterAll(async () => {
    if (child?.process.exitCode === null) child.process.kill("SIGKILL");
    await other?.stop();
  });

  it("should finish in-flight requests, close sockets with 1001 and exit 0; clients resume elsewhere", async () => {
    const server = child!;
    const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    const conversation = await createDirect(server.url, alice, bob, "drain");
    const ws = wsClient(server.wsUrl, bob.token);
    const sub = new Collector(ws.client, MessageAddedDocument, { conversationId: conversation.id });
    await waitForChannel(`${env.REDIS_PREFIX}conversation:${conversation.id}:message-added`);

    // A request the server has received (it answered 100 Continue) but whose body is still to come.
    const body = JSON.stringify({
      query: sourceOf(SendMessageDocument),
      variables: { input: { conversationId: conversation.id, text: "sent while draining" } },
    });
    const { port } = new URL(server.url);
    const request = http.request(server.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        authorization: `Bearer ${alice.token}`,
        expect: "100-continue",
      },
    });
    const response = new Promise<{ status: number; body: any }>((resolve, reject) => {
      request.once("error", reject);
      request.once("response", (res) => {
        let text = "";
        res.on("data", (chunk) => (text += String(chunk)));
        res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
    });
    await new Promise((resolve) => request.once("continue", resolve));

    server.process.kill("SIGTERM");
    // Draining: new connections are refused while the request above is still open.
    await eventually(() => refusing(Number(port)), "the server to stop accepting");
    request.end(body);

    const answer = await response;
    expect(answer.status).toBe(200);
    expect(answer.body.data.sendMessage).toMatchObject({ seq: 1, text: "sent while draining" });
    expect(await ws.closed).toMatchObject({ code: 1001 });
    expect(await server.exited).toBe(0);
    expect(server.logs.some((entry) => entry.msg === "stopping")).toBe(true);

    // The client reconnects to another instance with its last seq and misses nothing.
    const lastSeq = sub.values.at(-1)?.messageAdded.seq ?? 0;
    const again = wsClient(other.wsUrl, bob.token);
    const resumed = new Collector(again.client, MessageAddedDocument, {
      conversationId: conversation.id,
      afterSeq: lastSeq,
    });
    const seen = [...sub.values, ...(await resumed.take(1 - lastSeq))];
    expect(seen.map((v) => v.messageAdded.text)).toEqual(["sent while draining"]);
    await again.dispose();
  });
});
