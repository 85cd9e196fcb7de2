import Negotiator from "negotiator";
import type { ApolloServerPlugin } from "@apollo/server";

const JSON_TYPE = "application/json; charset=utf-8";
const GRAPHQL_RESPONSE_TYPE = "application/graphql-response+json; charset=utf-8";
/** Request errors: the document or its variables were refused before anything ran. */
const REQUEST_ERROR_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_USER_INPUT",
]);

/**
 * Status codes as the GraphQL-over-HTTP specification asks: a client that accepts only
 * `application/json` gets 200 for a well-formed request whose document or variables are refused
 * (legacy clients read the body, not the status); `application/graphql-response+json` keeps 4xx.
 * The media type is chosen here as Apollo chooses it, and set, so the two cannot disagree.
 */
export function specStatusCodes<C extends object>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ request, response, errors }) {
          if (response.body.kind !== "single" || response.http.status !== 400) return;
          if (!errors?.length) return;
          if (!errors.every((e) => REQUEST_ERROR_CODES.has(String(e.extensions?.code)))) return;
          const accept = request.http?.headers.get("accept");
          const type = accept
            ? new Negotiator({ headers: { accept } }).mediaType([JSON_TYPE, GRAPHQL_RESPONSE_TYPE])
            : JSON_TYPE;
          if (type !== JSON_TYPE) return;
          response.http.headers.set("content-type", JSON_TYPE);
          response.http.status = 200;
        },
      };
    },
  };
}
