import DataLoader from "dataloader";
import gql from "graphql-tag";
import {
  graphql,
  Kind,
  lexicographicSortSchema,
  parse,
  visit,
  type DirectiveNode,
  type DocumentNode,
  type GraphQLSchema,
} from "graphql";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { printSchemaWithDirectives } from "@graphql-tools/utils";
import { createResolversMap } from "type-graphql";
import type { Context } from "./context";
import { NotFoundError } from "./core/errors";
import { assertUuid } from "./core/ids";
import type { Conversation } from "./modules/conversations/conversation.entity";
import type { Message } from "./modules/messages/message.entity";
import { User } from "./modules/users/user.entity";
import { getSchema } from "./schema";

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
    if (ref.id === viewer.id || (await contactsOf(ctx).load(ref.id))) {
      return ctx.loaders.user.load(ref.id);
    }
    return Object.assign(new User(), { id: ref.id });
  },
  Conversation: (ref, ctx): Promise<Conversation> => ctx.app.conversations.require(ctx, ref.id),
  Message: async (ref, ctx): Promise<Message> => {
    ctx.requireViewer();
    const message = await ctx.loaders.message.load(assertUuid(ref.id, "id"));
    if (!message || !(await ctx.loaders.membership.load(message.conversationId))) {
      throw new NotFoundError("Message");
    }
    return message;
  },
};

/** Per request: which of the given users share a current conversation with the viewer. */
const contacts = new WeakMap<Context, DataLoader<string, boolean>>();
function contactsOf(ctx: Context): DataLoader<string, boolean> {
  let loader = contacts.get(ctx);
  if (!loader) {
    const viewerId = ctx.requireViewer().id;
    loader = new DataLoader(async (ids) => {
      const rows = await ctx.em.execute<{ user_id: string }[]>(
        `select distinct theirs.user_id from participant mine
           join participant theirs on theirs.conversation_id = mine.conversation_id
          where mine.user_id = ? and mine.left_at is null and theirs.left_at is null
            and theirs.user_id in (select value from jsonb_array_elements_text(?::jsonb))`,
        [viewerId, JSON.stringify(ids)],
      );
      const found = new Set(rows.map((r) => r.user_id));
      return ids.map((id) => found.has(id));
    });
    contacts.set(ctx, loader);
  }
  return loader;
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
    return buildSubgraphSchema({ typeDefs: [FEDERATION_LINK, typeDefs], resolvers });
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
