import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from "@apollo/server";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import {
  getOperationAST,
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  specifiedRules,
  validate,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type ValidationRule,
} from "graphql";
import type { Config } from "../config";
import type { VariableCheck } from "../core/fanout.documents";
import { COST_WEIGHTS, operationCost, pagesByVariable } from "../core/query-cost";
import { singleMutationRule } from "../core/single-mutation.rule";
import { hideSuggestions } from "../core/suggestions";

/** The same limits for both transports, in the shape each one takes them. */
export interface RequestLimits {
  /** graphql-armor's Apollo plugins (HTTP only). */
  readonly plugins: ApolloServerPlugin[];
  /** Apollo's `validationRules`: armor's limits and the single-mutation rule. */
  readonly validationRules: ValidationRule[];
  /** graphql-ws's `validate`: the spec's rules, the same limits, introspection only when on. */
  readonly validateWs: (schema: GraphQLSchema, document: DocumentNode) => GraphQLError[];
  /** The cost limit again once variables are known (HTTP runs it from one of `plugins`). */
  readonly checkVariables: VariableCheck;
}

/** Depth, cost, alias and directive limits from graphql-armor, for HTTP and WebSocket. */
function armorLimits(config: Readonly<Config>) {
  const limits = config.safety;
  return new ApolloArmor({
    maxDepth: { n: limits.maxQueryDepth },
    // armor's default weights, with which src/core/query-cost.ts counts what armor cannot see.
    costLimit: { maxCost: limits.maxQueryCost, ...COST_WEIGHTS },
    // armor exempts `__typename` aliases by default (allowList), so 1,000 of them passed.
    maxAliases: { n: limits.maxAliases, allowList: [] },
    maxDirectives: { n: limits.maxDirectives },
    // Its Apollo plugin throws from a hook (HTTP 500) and rethrows any unexpected error unmasked.
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: config.production },
  }).protect();
}

/** Builds the request limits once per instance. */
export function requestLimits(config: Readonly<Config>): RequestLimits {
  const armor = armorLimits(config);
  // Apollo's `introspection` switch covers HTTP only; the same rule keeps WebSocket in line.
  // Beside the limits: at most one non-idempotent mutation per operation (single-mutation.rule.ts).
  const validationRules = [...armor.validationRules, singleMutationRule()];
  const wsRules = [
    ...specifiedRules,
    ...validationRules,
    ...(config.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
  // Coded as Apollo codes them over HTTP (uncoded, the masking would turn them into internal
  // errors), and without field suggestions in production, as armor's HTTP plugin does.
  const validateWs = (schema: GraphQLSchema, document: DocumentNode) =>
    validate(schema, document, wsRules).map(
      (e) =>
        new GraphQLError(config.production ? hideSuggestions(e.message) : e.message, {
          nodes: e.nodes,
          source: e.source,
          positions: e.positions,
          originalError: e.originalError,
          extensions: { ...e.extensions, code: "GRAPHQL_VALIDATION_FAILED" },
        }),
    );
  const checkVariables = costWithVariables(config.safety.maxQueryCost, config.limits.pageSizeMax);
  // One listener object for every request: nothing made per request.
  const listener: GraphQLRequestListener<BaseContext> = {
    async didResolveOperation({ document, operationName, request }) {
      const [refused] = checkVariables(document, operationName, request.variables);
      if (refused) throw refused;
    },
  };
  const plugins: ApolloServerPlugin[] = [
    ...armor.plugins,
    { requestDidStart: async () => listener },
  ];
  return { plugins, validationRules, validateWs, checkVariables };
}

/**
 * armor validates before variables are known and counts `first: $n` once, so a page size given
 * as a variable would pass its cost limit at any size: the operation's cost is counted again
 * with the variables' values, and refused as armor refuses it, so a client sees the same error
 * whether it wrote the size inline or as a variable. A size over the page maximum counts as the
 * maximum: the field itself refuses it with BAD_USER_INPUT naming the argument.
 */
function costWithVariables(maxCost: number, pageCap: number): VariableCheck {
  const byVariable = new WeakMap<DocumentNode, boolean>();
  return (document, operationName, variables) => {
    let counts = byVariable.get(document);
    if (counts === undefined) byVariable.set(document, (counts = pagesByVariable(document)));
    const operation = counts ? getOperationAST(document, operationName) : null;
    if (!operation) return [];
    const fragments: Record<string, FragmentDefinitionNode> = {};
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION)
        fragments[definition.name.value] = definition;
    }
    const cost = operationCost(operation, fragments, { variables: variables ?? {}, pageCap });
    if (cost <= maxCost) return [];
    return [
      new GraphQLError(`Query Cost limit of ${maxCost} exceeded, found ${Math.ceil(cost)}.`, {
        extensions: {
          code: "GRAPHQL_VALIDATION_FAILED",
          limit: "MAX_QUERY_COST",
          max: maxCost,
          http: { status: 400 },
        },
      }),
    ];
  };
}
