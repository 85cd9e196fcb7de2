import gql from "graphql-tag";
import {
  getArgumentValues,
  graphql,
  Kind,
  lexicographicSortSchema,
  parse,
  visit,
  type DirectiveNode,
  type DocumentNode,
  type GraphQLField,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
} from "graphql";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { printSchemaWithDirectives } from "@graphql-tools/utils";
import { createResolversMap } from "type-graphql";
import type { Context } from "./context";
import { AppError, ErrorCode, NotFoundError } from "./core/errors";
import { assertUserId, assertUuid } from "./core/ids";
import { operationCost, rootFields } from "./core/query-cost";
import type { Conversation } from "./modules/conversations/conversation.entity";
import type { Message } from "./modules/messages/message.entity";
import { User } from "./modules/users/user.entity";
import { getSchema } from "./schema";
import { requireConversation } from "./modules/conversations/conversation.access";

/** Federation 2.3: what a gateway or router needs to compose us with other subgraphs. */
const FEDERATION_LINK = gql`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
`;

interface Reference {
  __typename: string;
  id: string;
}

/**
 * The entities other subgraphs may reference, each with its key and how a reference resolves. The
 * same rules as every other read: a Conversation or Message only for a current participant
 * (NOT_FOUND otherwise, never a hint); a User for any signed-in viewer, with its displayName only
 * when the viewer shares a conversation with them (otherwise the id alone, as for a user who never
 * signed in here).
 */
const ENTITIES: Record<string, (ref: Reference, ctx: Context) => Promise<unknown>> = {
  User: async (ref, ctx): Promise<User> => {
    const viewer = ctx.requireViewer();
    assertUserId(ref.id, "id");
    if (ref.id === viewer.id || (await ctx.loaders.contact.load(ref.id))) {
      return ctx.loaders.user.load(ref.id);
    }
    return Object.assign(new User(), { id: ref.id });
  },
  Conversation: (ref, ctx): Promise<Conversation> => requireConversation(ctx, ref.id),
  Message: async (ref, ctx): Promise<Message> => {
    ctx.requireViewer();
    const message = await ctx.loaders.message.load(assertUuid(ref.id, "id"));
    if (!message || !(await ctx.loaders.membership.load(message.conversationId))) {
      throw new NotFoundError("Message");
    }
    return message;
  },
};

/** A refusal of the `representations` argument as a whole. */
function badRepresentations(message: string, extensions: Record<string, unknown> = {}): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, message, {
    field: "representations",
    ...extensions,
  });
}

/**
 * What `_entities` checks before @apollo/subgraph resolves anything: at most
 * MAX_ENTITY_REPRESENTATIONS representations in the whole operation (every `_entities` field of
 * it), the operation's cost with each `_entities` selection counted once per representation within
 * MAX_QUERY_COST, and every representation an object naming an entity type of ours with a string
 * id. @apollo/subgraph itself would answer an unknown `__typename` (or `__proto__`), a type that is
 * no entity, or a missing id with an internal error.
 */
function checkRepresentations(
  representations: unknown[],
  ctx: Context,
  info: GraphQLResolveInfo,
  field: GraphQLField<unknown, unknown>,
): void {
  const { maxEntityRepresentations, maxQueryCost } = ctx.services.config.safety;
  const counts = new Map(
    rootFields(info.operation, info.fragments, "_entities").map((node) => {
      let count = 1;
      try {
        const args = getArgumentValues(field, node, info.variableValues);
        if (Array.isArray(args.representations)) count = args.representations.length;
      } catch {
        // Coerced already when this field is the one executing; another one's count stays 1.
      }
      return [node, count] as const;
    }),
  );
  const total = Math.max(
    representations.length,
    [...counts.values()].reduce((sum, n) => sum + n, 0),
  );
  if (total > maxEntityRepresentations) {
    throw badRepresentations(
      `At most ${maxEntityRepresentations} representations per request, got ${total}`,
      { limit: "MAX_ENTITY_REPRESENTATIONS", max: maxEntityRepresentations },
    );
  }
  const cost = operationCost(info.operation, info.fragments, {
    multiplier: (node) => counts.get(node) ?? 1,
    variables: info.variableValues,
    pageCap: ctx.services.config.limits.pageSizeMax,
  });
  if (cost > maxQueryCost) {
    throw badRepresentations(
      `Query cost ${Math.ceil(cost)} over ${maxQueryCost}, counting each representation; send fewer`,
      { limit: "MAX_QUERY_COST", max: maxQueryCost },
    );
  }
  representations.forEach((ref, index) => {
    if (typeof ref !== "object" || ref === null || Array.isArray(ref)) {
      throw badRepresentations(`representations[${index}] must be an object`, { index });
    }
    const { __typename, id } = ref as Record<string, unknown>;
    if (typeof __typename !== "string" || !Object.hasOwn(ENTITIES, __typename)) {
      throw badRepresentations(
        `representations[${index}].__typename must be one of ${Object.keys(ENTITIES).join(", ")}`,
        { index },
      );
    }
    if (typeof id !== "string") {
      throw badRepresentations(`representations[${index}].id must be a string`, { index });
    }
  });
}

/** Puts checkRepresentations in front of @apollo/subgraph's `_entities` resolver. */
function guardEntities(schema: GraphQLSchema): GraphQLSchema {
  const field = schema.getQueryType()?.getFields()._entities;
  const resolve = field?.resolve as GraphQLFieldResolver<unknown, unknown> | undefined;
  if (!field || !resolve) throw new Error("The subgraph schema has no _entities resolver");
  field.resolve = (source, args, ctx, info) => {
    const representations: unknown = args.representations;
    const list = Array.isArray(representations) ? representations : [];
    checkRepresentations(list, ctx as Context, info, field);
    return resolve(source, args, ctx, info);
  };
  return schema;
}

/** Adds `@key(fields: "id")` to every entity type of the printed schema. */
function withEntityKeys(document: DocumentNode): DocumentNode {
  const key: DirectiveNode = {
    kind: Kind.DIRECTIVE,
    name: { kind: Kind.NAME, value: "key" },
    arguments: [
      {
        kind: Kind.ARGUMENT,
        name: { kind: Kind.NAME, value: "fields" },
        value: { kind: Kind.STRING, value: "id" },
      },
    ],
  };
  const seen = new Set<string>();
  const result = visit(document, {
    ObjectTypeDefinition(node) {
      if (!(node.name.value in ENTITIES)) return undefined;
      seen.add(node.name.value);
      return { ...node, directives: [...(node.directives ?? []), key] };
    },
  });
  const missing = Object.keys(ENTITIES).filter((name) => !seen.has(name));
  if (missing.length) throw new Error(`Federation entities missing from the schema: ${missing}`);
  return result;
}

let cached: Promise<GraphQLSchema> | null = null;

/**
 * The service's schema as a Federation 2 subgraph: the same types and resolver functions as
 * getSchema() (built once per process), plus `_service`, `_entities` and the entity keys.
 */
export function getSubgraphSchema(): Promise<GraphQLSchema> {
  cached ??= getSchema().then((schema) => {
    const typeDefs = withEntityKeys(
      parse(printSchemaWithDirectives(lexicographicSortSchema(schema))),
    );
    const resolvers: Record<string, any> = { ...createResolversMap(schema) };
    for (const [type, resolve] of Object.entries(ENTITIES)) {
      resolvers[type] = {
        ...resolvers[type],
        __resolveReference: (ref: Reference, ctx: Context) => resolve(ref, ctx),
      };
    }
    return guardEntities(buildSubgraphSchema({ typeDefs: [FEDERATION_LINK, typeDefs], resolvers }));
  });
  return cached;
}

/** Exactly the SDL a gateway composes (`_service { sdl }`), committed as schema/subgraph.graphql. */
export async function printSubgraphSdl(): Promise<string> {
  const result = await graphql({
    schema: await getSubgraphSchema(),
    source: "{ _service { sdl } }",
  });
  const sdl = (result.data?._service as { sdl?: string } | undefined)?.sdl;
  if (!sdl) throw new Error(`_service.sdl failed: ${JSON.stringify(result.errors)}`);
  return `${sdl.trimEnd()}\n`;
}
