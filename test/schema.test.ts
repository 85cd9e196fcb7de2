import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isObjectType,
  type GraphQLNamedType,
  type GraphQLSchema,
} from "graphql";
import { printSortedSchema } from "../src/schema";

const ROOT = path.join(__dirname, "..");
const SCHEMA_FILE = path.join(ROOT, "schema", "schema.graphql");
const CHECK_CONTRACT = path.join(ROOT, "..", "shared", "tools", "check-contract.mjs");

/** What the walking skeleton serves, exactly as api-contract.graphql types it. */
const SKELETON = `
  scalar DateTime
  enum ConversationKind { DIRECT GROUP }
  enum ParticipantRole { OWNER ADMIN MEMBER }
  enum MessageKind { TEXT IMAGE FILE SYSTEM }
  type User { id: ID! displayName: String }
  type Conversation {
    id: ID!
    kind: ConversationKind!
    title: String
    subject: String
    participants: [Participant!]!
    lastMessage: Message
    unreadCount: Int!
    lastSeq: Int!
    messages(first: Int, after: String, last: Int, before: String): MessageConnection!
    createdAt: DateTime!
    lastActivityAt: DateTime!
  }
  type Participant {
    user: User!
    role: ParticipantRole!
    joinedAt: DateTime!
    lastReadSeq: Int!
    lastReadAt: DateTime
  }
  type Attachment {
    mediaId: ID! url: String! mimeType: String! name: String size: Int width: Int height: Int
  }
  type Message {
    id: ID!
    conversationId: ID!
    conversation: Conversation!
    seq: Int!
    sender: User
    kind: MessageKind!
    text: String
    attachments: [Attachment!]!
    clientMessageId: String
    createdAt: DateTime!
    editedAt: DateTime
    deletedAt: DateTime
  }
  type PageInfo {
    hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String
  }
  type MessageEdge { cursor: String! node: Message! }
  type MessageConnection { edges: [MessageEdge!]! pageInfo: PageInfo! }
  type ConversationEdge { cursor: String! node: Conversation! }
  type ConversationConnection { edges: [ConversationEdge!]! pageInfo: PageInfo! }
  input CreateConversationInput {
    kind: ConversationKind! participantIds: [ID!]! title: String subject: String
  }
  input AttachmentInput {
    mediaId: ID! url: String! mimeType: String! name: String size: Int width: Int height: Int
  }
  input SendMessageInput {
    conversationId: ID! text: String attachments: [AttachmentInput!] clientMessageId: String
  }
  type Query {
    me: User!
    conversation(id: ID!): Conversation
    conversations(first: Int, after: String): ConversationConnection!
    messages(conversationId: ID!, first: Int, after: String, last: Int, before: String): MessageConnection!
  }
  type Mutation {
    createConversation(input: CreateConversationInput!): Conversation!
    sendMessage(input: SendMessageInput!): Message!
  }
  type Subscription {
    messageAdded(conversationId: ID, afterSeq: Int): Message!
  }
`;

/** Every type, field, argument and enum value of `want` that `got` lacks or types differently. */
function differences(want: GraphQLSchema, got: GraphQLSchema): string[] {
  const problems: string[] = [];
  for (const [name, wanted] of Object.entries(want.getTypeMap())) {
    if (name.startsWith("__")) continue;
    const actual: GraphQLNamedType | undefined = got.getType(name);
    if (!actual) {
      problems.push(`missing type ${name}`);
    } else if (actual.constructor !== wanted.constructor) {
      problems.push(`${name} is a ${actual.constructor.name}`);
    } else if (isEnumType(wanted) && isEnumType(actual)) {
      const values = new Set(actual.getValues().map((v) => v.name));
      for (const v of wanted.getValues()) {
        if (!values.has(v.name)) problems.push(`missing enum value ${name}.${v.name}`);
      }
    } else if (
      (isObjectType(wanted) && isObjectType(actual)) ||
      (isInputObjectType(wanted) && isInputObjectType(actual))
    ) {
      const fields = actual.getFields() as Record<string, { type: unknown; args?: any[] }>;
      for (const [fieldName, field] of Object.entries(
        wanted.getFields() as Record<string, { type: unknown; args?: any[] }>,
      )) {
        const have = fields[fieldName];
        if (!have) {
          problems.push(`missing field ${name}.${fieldName}`);
          continue;
        }
        if (String(have.type) !== String(field.type)) {
          problems.push(`${name}.${fieldName} is ${String(have.type)}, not ${String(field.type)}`);
        }
        for (const arg of field.args ?? []) {
          const haveArg = have.args?.find((a) => a.name === arg.name);
          if (String(haveArg?.type) !== String(arg.type)) {
            problems.push(`${name}.${fieldName}(${arg.name}) is ${haveArg?.type}, not ${arg.type}`);
          }
        }
      }
    }
  }
  return problems;
}

describe("schema/schema.graphql", () => {
  it("should be what the resolvers emit (run `npm run schema` when this fails)", async () => {
    const committed = readFileSync(SCHEMA_FILE, "utf8");
    const emitted = await printSortedSchema();
    if (committed !== emitted) {
      throw new Error(
        "schema/schema.graphql is stale: run `npm run schema` and commit the result.\n" +
          firstDifference(committed, emitted),
      );
    }
  });

  it("should contain every type and field of the walking skeleton, typed as the contract types them", () => {
    const schema = buildSchema(readFileSync(SCHEMA_FILE, "utf8"));
    expect(differences(buildSchema(SKELETON), schema)).toEqual([]);
  });

  it("should type nothing differently from api-contract.graphql (check-contract.mjs reports only missing items)", () => {
    if (!existsSync(CHECK_CONTRACT)) {
      console.warn(`Skipped: ${CHECK_CONTRACT} does not exist, so the contract cannot be checked.`);
      return;
    }
    const run = spawnSync(process.execPath, [CHECK_CONTRACT, "schema/schema.graphql"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    const lines = run.stdout.split("\n").filter(Boolean);
    expect(lines[lines.length - 1]).toMatch(/^contract: /);
    const notMissing = lines.filter(
      (l) => !l.startsWith("missing ") && !l.startsWith("contract: "),
    );
    expect(notMissing).toEqual([]);
    // What is missing belongs to features still to come, never to the skeleton (tested above).
  });
});

function firstDifference(a: string, b: string): string {
  const left = a.split("\n");
  const right = b.split("\n");
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if (left[i] !== right[i]) {
      return `First difference at line ${i + 1}:\n  committed: ${left[i] ?? "<end>"}\n  emitted:   ${right[i] ?? "<end>"}`;
    }
  }
  return "";
}
