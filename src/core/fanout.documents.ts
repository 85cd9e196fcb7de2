import {
  getOperationAST,
  getVariableValues,
  Kind,
  parse,
  validate as graphqlValidate,
  type DocumentNode,
  GraphQLError,
  type GraphQLSchema,
} from "graphql";

/** graphql-ws's subscribe message payload. */
export interface SubscribePayload {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

/** A limit that needs the operation's variables (the query cost); its errors refuse it. */
export type VariableCheck = (
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>> | null | undefined,
) => readonly GraphQLError[];

/** What parsing and validating a subscription document needs (see FanoutOptions). */
export interface DocumentOptions {
  schema: GraphQLSchema;
  validate?: (schema: GraphQLSchema, document: DocumentNode) => readonly GraphQLError[];
  maxTokens?: number;
}

/**
 * The operation to run and its variables, checked before execution as Apollo checks them over
 * HTTP: no operation is OPERATION_RESOLUTION_FAILURE, a variable that does not coerce is
 * BAD_USER_INPUT (uncoded, they would reach the client as internal errors).
 */
export function checkOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  payload: SubscribePayload,
): readonly GraphQLError[] | null {
  const operation = getOperationAST(document, payload.operationName);
  if (!operation) {
    const message = payload.operationName
      ? `Unknown operation named "${payload.operationName}".`
      : "Must provide operation name if query contains multiple operations.";
    return [new GraphQLError(message, { extensions: { code: "OPERATION_RESOLUTION_FAILURE" } })];
  }
  const variables = payload.variables ?? {};
  if (typeof variables !== "object" || Array.isArray(variables)) {
    return [
      new GraphQLError("Variables must be an object", { extensions: { code: "BAD_REQUEST" } }),
    ];
  }
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables, {
    maxErrors: 50,
  });
  if (!coerced.errors) return null;
  return coerced.errors.map(
    (error) =>
      new GraphQLError(error.message, {
        nodes: error.nodes,
        extensions: { ...error.extensions, code: "BAD_USER_INPUT" },
      }),
  );
}

/** The document and its errors; a syntax error is one error coded GRAPHQL_PARSE_FAILED. */
export function parseAndValidate(
  query: string,
  { schema, validate, maxTokens }: DocumentOptions,
): { document: DocumentNode; errors: readonly GraphQLError[] } {
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens });
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    const coded = new GraphQLError(error.message, {
      source: error.source,
      positions: error.positions,
      extensions: { code: "GRAPHQL_PARSE_FAILED" },
    });
    return { document: { kind: Kind.DOCUMENT, definitions: [] }, errors: [coded] };
  }
  return { document, errors: (validate ?? graphqlValidate)(schema, document) };
}
