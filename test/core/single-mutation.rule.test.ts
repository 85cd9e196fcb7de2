import { parse, specifiedRules, validate, type GraphQLSchema } from "graphql";
import { singleMutationRule, SINGLE_MUTATION_FIELDS } from "../../src/core/single-mutation.rule";
import { getSchema } from "../../src/schema";

const SEND = `sendMessage(input: { conversationId: "c", text: "t" }) { id }`;
const EDIT = `editMessage(id: "m", text: "t") { id }`;
const CREATE = `createConversation(input: { kind: GROUP, participantIds: ["u"] }) { id }`;

describe("singleMutationRule", () => {
  let schema: GraphQLSchema;

  /** The messages of the errors the rule (alone, after the standard rules pass) reports. */
  const errors = (source: string, rule = singleMutationRule()) => {
    const document = parse(source);
    expect(validate(schema, document, specifiedRules)).toEqual([]);
    return validate(schema, document, [rule]).map((e) => e.message);
  };

  beforeAll(async () => {
    schema = await getSchema();
  });

  it("should list sendMessage, createConversation and editMessage by default", () => {
    expect([...SINGLE_MUTATION_FIELDS].sort()).toEqual(
      ["createConversation", "editMessage", "sendMessage"].sort(),
    );
  });

  it("should accept one listed mutation, alone or beside idempotent ones", () => {
    for (const source of [
      `mutation { ${SEND} }`,
      `mutation { a: ${SEND} }`,
      `mutation { ${SEND} markRead(conversationId: "c") { id } deleteMessage(id: "m") { id } }`,
      `mutation { ${CREATE} __typename }`,
      // Only one operation of a document runs.
      `mutation A { ${SEND} } mutation B { ${SEND} }`,
      // One response key runs once.
      `mutation { ${SEND} ${SEND} }`,
      `mutation { ...F ...F } fragment F on Mutation { ${SEND} }`,
      `query { me { id } }`,
    ]) {
      expect({ source, errors: errors(source) }).toEqual({ source, errors: [] });
    }
  });

  it("should refuse two listed mutations in one operation, however they are written", () => {
    for (const [source, found] of [
      [`mutation { a: ${SEND} b: ${SEND} }`, "a: sendMessage, b: sendMessage"],
      [`mutation { ${SEND} ${EDIT} }`, "sendMessage, editMessage"],
      [`mutation { ${CREATE} x: ${SEND} }`, "createConversation, x: sendMessage"],
      [`mutation { a: ${SEND} ... on Mutation { b: ${SEND} } }`, "a: sendMessage, b: sendMessage"],
      [
        `mutation { ... { a: ${SEND} } ...F } fragment F on Mutation { b: ${SEND} }`,
        "a: sendMessage, b: sendMessage",
      ],
      [
        `mutation($no: Boolean!) { a: ${SEND} b: ${SEND.replace(" { id }", " @skip(if: $no) { id }")} }`,
        "a: sendMessage, b: sendMessage",
      ],
    ]) {
      const messages = errors(source);
      expect({ source, messages }).toEqual({
        source,
        messages: [
          `At most one of sendMessage, createConversation, editMessage per operation, found 2 (${found}): ` +
            "if one failed, the results of the others would be lost. Send each in its own request.",
        ],
      });
    }
  });

  it("should count the fields it is given, and only those", () => {
    const rule = singleMutationRule(["markRead"]);
    expect(errors(`mutation { a: ${SEND} b: ${SEND} }`, rule)).toEqual([]);
    expect(
      errors(
        `mutation { a: markRead(conversationId: "c") { id } b: markRead(conversationId: "d") { id } }`,
        rule,
      ),
    ).toHaveLength(1);
  });
});
