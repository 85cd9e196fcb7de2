import type { ApolloServerPlugin } from "@apollo/server";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type ValidationRule,
} from "graphql";
import type { Config } from "../config";
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
}

/** Depth, cost, alias and directive limits from graphql-armor, for HTTP and WebSocket. */
function armorLimits(config: Readonly<Config>) {
  const limits = config.safety;
  return new ApolloArmor({
    maxDepth: { n: limits.maxQueryDepth },
    // armor's default weights, which src/core/query-cost.ts (the _entities cost) repeats.
    costLimit: { maxCost: limits.maxQueryCost, objectCost: 2, scalarCost: 1, depthCostFactor: 1.5 },
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
  return { plugins: armor.plugins, validationRules, validateWs };
}
