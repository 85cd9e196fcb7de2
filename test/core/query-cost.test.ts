import "reflect-metadata";
import {
  Kind,
  parse,
  specifiedRules,
  validate,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from "graphql";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import { COST_WEIGHTS, operationCost, rootFields } from "../../src/core/query-cost";
import { getSchema } from "../../src/schema";

function parts(source: string) {
  const document = parse(source);
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  )!;
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  }
  return { document, operation, fragments };
}

/** The cost graphql-armor reports for a document, with the weights app.ts gives it. */
function armorCost(schema: GraphQLSchema, source: string): number {
  const { validationRules } = new ApolloArmor({
    costLimit: { maxCost: 0, ...COST_WEIGHTS },
    maxAliases: { enabled: false },
    maxDepth: { enabled: false },
    maxDirectives: { enabled: false },
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  }).protect();
  try {
    const errors = validate(schema, parse(source), [...specifiedRules, ...validationRules]);
    throw new Error(`expected armor to refuse, got ${JSON.stringify(errors)}`);
  } catch (error) {
    const found = /found (\d+(?:\.\d+)?)/.exec((error as Error).message);
    if (!found) throw error;
    return Number(found[1]);
  }
}

describe("operationCost", () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await getSchema();
  });

  it("should equal graphql-armor's cost for the same document", () => {
    for (const source of [
      `{ me { id displayName } }`,
      `{ __typename a: __typename }`,
      `{ conversations(first: 20) { edges { node { id messages(last: 5) { edges { node { id text } } } } } } }`,
      `query { me { ...u ...u } } fragment u on User { id presence { status } }`,
      `{ ...q } fragment q on Query { me { ... on User { id } } }`,
    ]) {
      const { operation, fragments } = parts(source);
      expect({ source, cost: operationCost(operation, fragments) }).toEqual({
        source,
        cost: armorCost(schema, source),
      });
    }
  });

  it("should multiply the fields the caller counts more often, with their whole selection", () => {
    const { operation, fragments } = parts(`{ me { id } }`);
    const once = operationCost(operation, fragments);
    const multiplier = (f: FieldNode) => (f.name.value === "me" ? 10 : 1);
    expect(operationCost(operation, fragments, { multiplier })).toBe(once * 10);
  });

  it("should count a page size given as a variable as armor counts it inline, up to the cap", () => {
    const page = (first: string) =>
      `query($n: Int) { conversations(first: ${first}) { edges { node { id } } } }`;
    const inline = parts(page("40"));
    const byVariable = parts(page("$n"));
    const cost = (variables: Record<string, unknown>, pageCap?: number) =>
      operationCost(byVariable.operation, byVariable.fragments, { variables, pageCap });
    expect(cost({ n: 40 })).toBe(armorCost(schema, page("40")));
    expect(cost({ n: 40 })).toBe(operationCost(inline.operation, inline.fragments));
    // No value (the field's default page) counts once, as armor counts it.
    expect(cost({})).toBe(armorCost(schema, page("$n")));
    expect(cost({ n: 1000 }, 100)).toBe(cost({ n: 100 }));
  });

  it("should find root fields through fragments and inline fragments", () => {
    const { operation, fragments } = parts(
      `{ a: me { id } ... { b: me { id } } ...f } fragment f on Query { c: me { id } }`,
    );
    expect(rootFields(operation, fragments, "me").map((f) => f.alias?.value)).toEqual([
      "a",
      "b",
      "c",
    ]);
  });
});
