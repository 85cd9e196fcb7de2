import {
  getOperationAST,
  isObjectType,
  Kind,
  parse,
  validate,
  type OperationDefinitionNode,
} from "graphql";
import { codeOf, Collector, gql, subscriptionCodes } from "../helpers/client";
import {
  app,
  expectNothingOfTheirs,
  mallory,
  malloryWs,
  schema,
  useAuthorizationMatrix,
} from "../helpers/authorization-setup";
import { QUERIES, SUBSCRIPTIONS } from "./authorization-cases";

/** The matrix's queries and mutations, and that its table covers the whole schema. */

describe("Authorization matrix", () => {
  useAuthorizationMatrix();

  it("should have a case for every root field of the built schema, and none for a missing one", () => {
    const fields: string[] = [];
    for (const type of [
      schema.getQueryType(),
      schema.getMutationType(),
      schema.getSubscriptionType(),
    ]) {
      if (!type || !isObjectType(type)) continue;
      for (const name of Object.keys(type.getFields())) fields.push(`${type.name}.${name}`);
    }
    expect(fields.length).toBeGreaterThan(25);
    const covered = [...Object.keys(QUERIES), ...Object.keys(SUBSCRIPTIONS)];
    expect(fields.filter((f) => !covered.includes(f))).toEqual([]);
    expect(covered.filter((f) => !fields.includes(f))).toEqual([]);
  });

  it("should have each case call exactly its own field with a valid operation", () => {
    for (const [name, c] of [...Object.entries(QUERIES), ...Object.entries(SUBSCRIPTIONS)]) {
      const [typeName, field] = name.split(".");
      const document = parse(c.query);
      expect({ name, errors: validate(schema, document).map((e) => e.message) }).toEqual({
        name,
        errors: [],
      });
      const operation = getOperationAST(document) as OperationDefinitionNode;
      const rootType = { query: "Query", mutation: "Mutation", subscription: "Subscription" };
      expect(rootType[operation.operation]).toBe(typeName);
      const selected = operation.selectionSet.selections.map((s) =>
        s.kind === Kind.FIELD ? s.name.value : s.kind,
      );
      expect({ name, selected }).toEqual({ name, selected: [field] });
    }
  });

  describe.each(Object.keys(QUERIES))("%s", (name) => {
    const c = () => QUERIES[name];
    const field = name.split(".")[1];

    it("should refuse a non-participant, or reveal nothing of the others' conversation", async () => {
      const { query, variables, expected } = c();
      const result = await gql(app.url, query, variables?.() ?? {}, mallory.token);
      if (typeof expected === "string") {
        expect({ name, code: codeOf(result) }).toEqual({ name, code: expected });
        expect(result.data?.[field] ?? null).toBeNull();
        expect(result.errors).toHaveLength(1);
      } else {
        expect(result.errors).toBeUndefined();
        await expected(result);
      }
      expectNothingOfTheirs(result);
    });

    it("should refuse a non-participant the same way over WebSocket", async () => {
      const { query, variables, expected } = c();
      if (typeof expected !== "string") return;
      const sub = new Collector(malloryWs.client, query, variables?.() ?? {});
      await sub.ended();
      expect({ name, codes: subscriptionCodes(sub) }).toEqual({ name, codes: [expected] });
      expect(sub.values.every((v) => v[field] == null)).toBe(true);
      expectNothingOfTheirs(sub.values);
      expectNothingOfTheirs(sub.errors);
    });

    it("should answer UNAUTHENTICATED (401) without a token", async () => {
      const { query, variables } = c();
      const result = await gql(app.url, query, variables?.() ?? {});
      expect({ name, code: codeOf(result), status: result.status }).toEqual({
        name,
        code: "UNAUTHENTICATED",
        status: 401,
      });
      // A nullable field answers null, a non-null one nulls the whole data.
      expect(Object.values(result.data ?? {})).toEqual(result.data ? [null] : []);
      expectNothingOfTheirs(result);
    });
  });
});
