import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  AddParticipantsDocument,
  ConversationsDocument,
  CreateConversationDocument,
  type CreateConversationInput,
} from "../../gql/graphql";
import { codeOf, gql, gqlOk } from "../../helpers/client";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

interface PolicyCall {
  method: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

type Answer = (res: http.ServerResponse) => void;

const allow: Answer = (res) => json(res, 200, { allow: true });
const deny =
  (reason?: string): Answer =>
  (res) =>
    json(res, 200, reason ? { allow: false, reason } : { allow: false });
function json(res: http.ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

describe("Eligibility policy (CHAT_POLICY_URL)", () => {
  let server: http.Server;
  let app: TestApp;
  let calls: PolicyCall[] = [];
  let answer: Answer = allow;

  const create = (by: TestUser, input: CreateConversationInput) =>
    gql(app.url, CreateConversationDocument, { input }, by.token);

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (chunk) => (raw += String(chunk)));
      req.on("end", () => {
        calls.push({
          method: req.method ?? "",
          authorization: req.headers.authorization,
          contentType: req.headers["content-type"],
          body: JSON.parse(raw) as Record<string, unknown>,
        });
        answer(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    app = await startTestApp(
      testEnv({
        CHAT_POLICY_URL: `http://127.0.0.1:${port}/may-chat`,
        CHAT_POLICY_TOKEN: "policy-secret",
        CHAT_POLICY_TIMEOUT_MS: "200",
      }),
    );
  });
  beforeEach(() => {
    calls = [];
    answer = allow;
  });
  afterAll(async () => {
    await app?.stop();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it("should ask before creating a conversation, with action, actor, participants, kind and subject", async () => {
    const [alice, bob, carol] = await Promise.all([
      testUser("alice"),
      testUser("bob"),
      testUser("carol"),
    ]);
    const result = await create(alice, {
      kind: "GROUP",
      title: "Lesson",
      subject: "booking:42",
      participantIds: [bob.id, carol.id, alice.id, bob.id],
    });
    expect(result.errors).toBeUndefined();
    expect(result.data!.createConversation).toMatchObject({ kind: "GROUP", subject: "booking:42" });
    expect(calls).toEqual([
      {
        method: "POST",
        authorization: "Bearer policy-secret",
        contentType: "application/json",
        body: {
          action: "createConversation",
          actorId: alice.id,
          participantIds: [bob.id, carol.id],
          kind: "GROUP",
          subject: "booking:42",
          conversationId: null,
        },
      },
    ]);
  });

  it("should refuse with FORBIDDEN, the policy's reason as the message and reason POLICY_DENIED", async () => {
    const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    answer = deny("No confirmed booking between you");
    const result = await create(alice, { kind: "DIRECT", participantIds: [bob.id] });
    expect(result.data).toBeNull();
    expect(result.errors?.[0]).toMatchObject({
      message: "No confirmed booking between you",
      extensions: { code: "FORBIDDEN", reason: "POLICY_DENIED" },
    });
    expect(calls.map((c) => c.body)).toEqual([
      {
        action: "createConversation",
        actorId: alice.id,
        participantIds: [bob.id],
        kind: "DIRECT",
        subject: null,
        conversationId: null,
      },
    ]);
    // Nothing was created: bob's inbox is empty.
    const inbox = await gqlOk(app.url, ConversationsDocument, {}, bob.token);
    expect(inbox.conversations.edges).toEqual([]);
  });

  it("should refuse with a generic message when the policy gives no reason, or an answer other than allow: true", async () => {
    const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    for (const body of [{ allow: false }, { allow: "yes" }, {}, { reason: 42 }]) {
      answer = (res) => json(res, 200, body);
      const result = await create(alice, { kind: "DIRECT", participantIds: [bob.id] });
      expect({ body, extensions: result.errors?.[0]?.extensions }).toEqual({
        body,
        extensions: { code: "FORBIDDEN", reason: "POLICY_DENIED" },
      });
      expect(result.errors?.[0]?.message).toBe("Not allowed by the chat policy");
    }
  });

  it.each<[string, Answer]>([
    ["never answers", () => {}],
    ["answers 500", (res) => json(res, 500, { allow: true })],
    ["answers 403", (res) => json(res, 403, { allow: true })],
    ["answers something other than JSON", (res) => res.writeHead(200).end("<html>ok</html>")],
  ])(
    "should fail closed with FORBIDDEN and reason POLICY_UNAVAILABLE when the policy %s",
    async (_label, broken) => {
      const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
      answer = broken;
      const result = await create(alice, { kind: "DIRECT", participantIds: [bob.id] });
      expect(codeOf(result)).toBe("FORBIDDEN");
      expect(result.errors?.[0]?.extensions?.reason).toBe("POLICY_UNAVAILABLE");
      expect(result.errors?.[0]?.message).not.toMatch(/127\.0\.0\.1|may-chat|abort|timeout/i);
      expect(calls).toHaveLength(1);
      // The server still answers, and a working policy lets the same request through.
      answer = allow;
      const retry = await create(alice, { kind: "DIRECT", participantIds: [bob.id] });
      expect(retry.errors).toBeUndefined();
    },
  );

  it("should ask before adding participants, and add none when refused", async () => {
    const [alice, bob, dave, erin] = await Promise.all([
      testUser("alice"),
      testUser("bob"),
      testUser("dave"),
      testUser("erin"),
    ]);
    const created = await create(alice, {
      kind: "GROUP",
      title: "Class",
      subject: "course:7",
      participantIds: [bob.id],
    });
    const conversationId = created.data!.createConversation.id;
    calls = [];

    answer = deny("Dave has not booked this course");
    const refused = await gql(
      app.url,
      AddParticipantsDocument,
      { conversationId, userIds: [dave.id] },
      alice.token,
    );
    expect(refused.errors?.[0]).toMatchObject({
      message: "Dave has not booked this course",
      extensions: { code: "FORBIDDEN", reason: "POLICY_DENIED" },
    });

    answer = allow;
    const added = await gqlOk(
      app.url,
      AddParticipantsDocument,
      { conversationId, userIds: [bob.id, erin.id] },
      alice.token,
    );
    const ids = added.addParticipants.participants.map((p: any) => p.user.id);
    expect(ids).toEqual([alice.id, bob.id, erin.id]);
    // Only those not yet in the conversation are asked about.
    expect(calls.map((c) => c.body)).toEqual([
      {
        action: "addParticipants",
        actorId: alice.id,
        participantIds: [dave.id],
        kind: "GROUP",
        subject: "course:7",
        conversationId,
      },
      {
        action: "addParticipants",
        actorId: alice.id,
        participantIds: [erin.id],
        kind: "GROUP",
        subject: "course:7",
        conversationId,
      },
    ]);
  });

  it("should not ask for addParticipants that fail anyway: a non-participant (NOT_FOUND) or a MEMBER (FORBIDDEN)", async () => {
    const [alice, bob, mallory] = await Promise.all([
      testUser("alice"),
      testUser("bob"),
      testUser("mallory"),
    ]);
    const created = await create(alice, {
      kind: "GROUP",
      title: "Private",
      participantIds: [bob.id],
    });
    const id = created.data!.createConversation.id;
    calls = [];
    const outsider = await gql(
      app.url,
      AddParticipantsDocument,
      { conversationId: id, userIds: [mallory.id] },
      mallory.token,
    );
    expect(codeOf(outsider)).toBe("NOT_FOUND");
    const member = await gql(
      app.url,
      AddParticipantsDocument,
      { conversationId: id, userIds: [mallory.id] },
      bob.token,
    );
    expect(codeOf(member)).toBe("FORBIDDEN");
    expect(member.errors?.[0]?.extensions?.reason).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it("should return an existing DIRECT conversation without asking again", async () => {
    const [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    const input: CreateConversationInput = {
      kind: "DIRECT",
      participantIds: [bob.id],
      subject: "listing:9",
    };
    const first = await create(alice, input);
    expect(calls).toHaveLength(1);
    // The policy would now refuse, but nothing new is being created.
    answer = deny("no longer eligible");
    for (const [by, others] of [
      [alice, [bob.id]],
      [bob, [alice.id]],
    ] as const) {
      const again = await create(by, { ...input, participantIds: [...others] });
      expect(again.errors).toBeUndefined();
      expect(again.data!.createConversation.id).toBe(first.data!.createConversation.id);
    }
    expect(calls).toHaveLength(1);
  });
});
