import { auditServer } from "graphql-http";
import { startTestApp, type TestApp } from "../helpers/app";

/**
 * The GraphQL-over-HTTP specification's own audit (graphql-http's auditServer), run against the
 * real server: every MUST and SHOULD holds, with no warning.
 */
describe("GraphQL over HTTP", () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  it("should pass the specification's audit with no error and no warning", async () => {
    const results = await auditServer({ url: app.url, fetchFn: fetch });
    const failed = results
      // "notice" marks a MAY: GETs without a CSRF-preflight header, which Apollo refuses.
      .filter((result) => result.status === "warn" || result.status === "error")
      .map(
        (result) =>
          `${result.status} ${result.id} ${result.name}: ${"reason" in result ? result.reason : ""}`,
      );
    expect(failed).toEqual([]);
    expect(results.length).toBeGreaterThan(50);
  });

  it.each([
    ["a syntax error", "{ me {", {}],
    ["an unknown field", "{ nope }", {}],
    [
      "a variable that does not coerce",
      "query($id: ID!) { conversation(id: $id) { id } }",
      { id: {} },
    ],
  ])(
    "should answer %s with 200 to application/json and 400 to application/graphql-response+json",
    async (_label, query, variables) => {
      const post = (accept?: string) =>
        fetch(app.url, {
          method: "POST",
          headers: { "content-type": "application/json", ...(accept ? { accept } : {}) },
          body: JSON.stringify({ query, variables }),
        });
      for (const accept of ["application/json", undefined, "*/*"]) {
        const response = await post(accept);
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toMatch(/^application\/json/);
        expect(((await response.json()) as { errors: unknown[] }).errors.length).toBeGreaterThan(0);
      }
      // What Apollo Client sends.
      const modern = await post("application/graphql-response+json,application/json;q=0.9");
      expect(modern.status).toBe(400);
      expect(modern.headers.get("content-type")).toMatch(/^application\/graphql-response\+json/);
    },
  );
});
