import {
  execute,
  getNamedType,
  isAbstractType,
  isObjectType,
  parse,
  type ExecutionResult,
  type GraphQLObjectType,
  type GraphQLSchema,
} from "graphql";
import { Context } from "../../src/context";
import { sharedSelection } from "../../src/core/fanout";
import type { FanoutOptions } from "../../src/core/fanout";
import { Topic } from "../../src/core/pubsub";
import { createFanout } from "../../src/server/shared-fields";
import type {
  MessageAddedEvent,
  MessageUpdatedEvent,
  MessageWithSender,
} from "../../src/modules/messages/message.events";
import { getSchema } from "../../src/schema";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import {
  AddParticipantsDocument,
  BlockUserDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  MarkReadDocument,
  MeDocument,
  SendMessageDocument,
} from "../gql/graphql";
import { gqlOk } from "../helpers/client";
import { createGroup, sendText } from "../helpers/operations";
import { testUser, type TestUser } from "../helpers/tokens";

type IsShared = (typeName: string, fieldName: string) => boolean;

/** What a selection asks of one object type: each field, and the plan of its object type. */
interface Plan {
  type: GraphQLObjectType;
  fields: Array<{ name: string; child: Plan[] | null }>;
}

/**
 * Every shared field of `type`, and of the object types they lead to, recursively. An abstract
 * type gets an inline fragment per possible type; a type seen on the path already, or one with no
 * shared field, only `__typename` (which is always shared).
 */
function planOf(
  schema: GraphQLSchema,
  isShared: IsShared,
  type: GraphQLObjectType,
  path: string[],
) {
  const fields: Plan["fields"] = [];
  for (const field of Object.values(type.getFields())) {
    if (!isShared(type.name, field.name)) continue;
    const required = field.args.filter((a) => a.type.toString().endsWith("!"));
    if (required.length) {
      throw new Error(`${type.name}.${field.name} needs arguments; teach this test which`);
    }
    const named = getNamedType(field.type);
    const objects = isObjectType(named)
      ? [named]
      : isAbstractType(named)
        ? [...schema.getPossibleTypes(named)]
        : null;
    fields.push({
      name: field.name,
      child:
        objects?.map((object) =>
          path.includes(object.name)
            ? { type: object, fields: [] }
            : planOf(schema, isShared, object, [...path, object.name]),
        ) ?? null,
    });
  }
  return { type, fields };
}

function selectionOf(plan: Plan): string {
  return [
    "__typename",
    ...plan.fields.map(({ name, child }) =>
      child
        ? `${name} { __typename ${child.map((c) => `... on ${c.type.name} { ${selectionOf(c)} }`).join(" ")} }`
        : name,
    ),
  ].join(" ");
}

/** Marks `Type.field` for every field of `plan` that holds something in `data`. */
function cover(plan: Plan, data: unknown, covered: Set<string>): void {
  if (Array.isArray(data)) return data.forEach((item) => cover(plan, item, covered));
  if (!data || typeof data !== "object") return;
  const record = data as Record<string, unknown>;
  if (record.__typename !== plan.type.name) return;
  for (const { name, child } of plan.fields) {
    const value = record[name];
    if (value === null || value === undefined || (Array.isArray(value) && !value.length)) continue;
    covered.add(`${plan.type.name}.${name}`);
    for (const c of child ?? []) cover(c, value, covered);
  }
}

describe("Fan-out shared fields (src/fanout.ts SHARED_FIELDS)", () => {
  let app: TestApp;
  let schema: GraphQLSchema;
  let isShared: IsShared;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let dave: TestUser;
  let mallory: TestUser;
  let moderator: TestUser;
  const added: MessageWithSender[] = [];
  const updated: MessageWithSender[] = [];
  const replayed: MessageWithSender[] = [];

  beforeAll(async () => {
    app = await startTestApp(testEnv());
    schema = await getSchema();
    // The very predicate the running fan-out groups by (FanoutOptions.isShared).
    const fanout = createFanout(
      schema,
      () => [],
      () => {},
    );
    isShared = (fanout as unknown as { options: FanoutOptions<Context> }).options.isShared;

    [alice, bob, carol, dave, mallory, moderator] = await Promise.all([
      testUser("alice"),
      testUser("bob"),
      testUser("carol"),
      testUser("dave"),
      testUser("mallory"),
      testUser("mod", { roles: ["moderator"] }),
    ]);
    // Everyone signed in once, so each has a displayName here.
    for (const user of [alice, bob, carol, dave, mallory, moderator]) {
      await gqlOk(app.url, MeDocument, {}, user.token);
    }
    const { id: conversationId } = await createGroup(app.url, alice, [bob, carol], "Shared");

    // The events exactly as the fan-out receives them: published to Redis, decoded by the streams.
    const { pubsub, messageStreams } = app.app.services;
    const stops = await Promise.all([
      pubsub.subscribe(Topic.messageAdded(conversationId), (event) =>
        added.push(messageStreams.decode(event as MessageAddedEvent)),
      ),
      pubsub.subscribe(Topic.messageUpdated(conversationId), (event) =>
        updated.push(messageStreams.decode(event as MessageUpdatedEvent)),
      ),
    ]);
    const sent = await gqlOk(
      app.url,
      SendMessageDocument,
      {
        input: {
          conversationId,
          text: "with a picture",
          clientMessageId: "client-1",
          attachments: [
            {
              mediaId: "m1",
              url: "https://media.test/1.png",
              mimeType: "image/png",
              name: "one.png",
              size: 1234,
              width: 640,
              height: 480,
            },
          ],
        },
      },
      alice.token,
    );
    expect(sent.sendMessage.id).toEqual(expect.any(String));
    const edited = await sendText(app.url, alice, conversationId, "before the edit", "client-2");
    await gqlOk(app.url, EditMessageDocument, { id: edited.id, text: "edited" }, alice.token);
    const doomed = await sendText(app.url, bob, conversationId, "to be deleted");
    await gqlOk(app.url, DeleteMessageDocument, { id: doomed.id }, bob.token);
    // A SYSTEM message with a systemEvent (actor and users).
    await gqlOk(
      app.url,
      AddParticipantsDocument,
      { conversationId, userIds: [dave.id] },
      alice.token,
    );
    await sendText(app.url, carol, conversationId, "plain text");
    // Read positions and a block, so viewers differ where they can.
    await gqlOk(app.url, MarkReadDocument, { conversationId }, bob.token);
    await gqlOk(app.url, BlockUserDocument, { userId: alice.id }, carol.token);

    const deadline = Date.now() + 10_000;
    while ((added.length < 5 || updated.length < 2) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    stops.forEach((stop) => stop());
    expect({ added: added.length, updated: updated.length }).toEqual({ added: 5, updated: 2 });
    // Stored history, as replayed to a subscriber resuming with afterSeq.
    replayed.push(...(await messageStreams.readRange(conversationId, alice.id, 0, 100)));
  });
  afterAll(async () => {
    await app?.stop();
  });

  /** Who the tests execute for: the sender, members (one has read all, one blocked the sender), strangers. */
  async function viewers() {
    return Promise.all(
      [alice, bob, carol, dave, mallory, moderator].map(async (user) => ({
        id: user.id,
        viewer: await app.app.services.verifyToken(user.token),
      })),
    );
  }

  /**
   * Executes, per Subscription field, a selection of every shared field against every event with
   * a fresh real Context per viewer, as a fan-out group would with its first member's; returns
   * where results differ from the sender's, and which shared fields held a value somewhere.
   */
  async function compare(predicate: IsShared) {
    const root = schema.getSubscriptionType()!;
    const differences: unknown[] = [];
    const covered = new Set<string>();
    const everyViewer = await viewers();
    for (const field of Object.values(root.getFields())) {
      if (!predicate(root.name, field.name)) continue;
      const plan = planOf(schema, predicate, root, [root.name]);
      const only = { ...plan, fields: plan.fields.filter((f) => f.name === field.name) };
      const document = parse(`subscription { ${selectionOf(only)} }`);
      // The engine must agree that this document is shared, or it would not group it.
      expect(sharedSelection(schema, document, null, predicate)).toBe(true);
      const events = field.name === "messageUpdated" ? updated : [...added, ...replayed];
      for (const event of events) {
        const results: Array<{ viewer: string; result: ExecutionResult }> = [];
        for (const { id, viewer } of everyViewer) {
          const contextValue = new Context(app.app.services, viewer);
          const result = await execute({ schema, document, rootValue: event, contextValue });
          results.push({ viewer: id, result: JSON.parse(JSON.stringify(result)) });
          cover(only, result.data, covered);
        }
        const [first, ...rest] = results;
        for (const other of rest) {
          try {
            expect(other.result).toEqual(first.result);
          } catch {
            differences.push({ field: field.name, seq: event.seq, first, other });
          }
        }
      }
    }
    return { differences, covered };
  }

  /** Every Type.field the predicate shares, across the schema. */
  function sharedFieldsOf(predicate: IsShared): string[] {
    const found: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith("__")) continue;
      for (const name of Object.keys(type.getFields())) {
        if (predicate(type.name, name)) found.push(`${type.name}.${name}`);
      }
    }
    return found.sort();
  }

  it("should resolve every shared field the same for every viewer, given the same event", async () => {
    const { differences } = await compare(isShared);
    expect(differences).toEqual([]);
  });

  it("should have tested every field listed as shared, each with a value", async () => {
    const { covered } = await compare(isShared);
    const listed = sharedFieldsOf(isShared);
    // SHARED_FIELDS is not empty, and lists at least the fields a chat screen renders.
    expect(listed).toEqual(
      expect.arrayContaining(["Subscription.messageAdded", "Message.text", "SystemEvent.users"]),
    );
    expect(listed.filter((name) => !covered.has(name))).toEqual([]);
  });

  it("should catch a viewer-dependent field if one were listed as shared", async () => {
    const withExtra =
      (...extra: string[]): IsShared =>
      (type, field) =>
        isShared(type, field) || extra.includes(`${type}.${field}`);
    for (const extra of [
      ["Message.readBy"],
      ["Message.conversation"],
      ["Message.conversation", "Conversation.id", "Conversation.unreadCount"],
      ["Message.conversation", "Conversation.id", "Conversation.viewerRole"],
    ]) {
      const { differences, covered } = await compare(withExtra(...extra));
      expect({ extra, found: differences.length > 0 }).toEqual({ extra, found: true });
      expect(covered.has(extra[0]) || differences.length > 0).toBe(true);
    }
  });
});
