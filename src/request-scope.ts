import { randomUUID } from "node:crypto";
import DataLoader from "dataloader";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { UnauthenticatedError } from "./core/errors";
import type { Logger } from "./core/logger";
import type { Viewer } from "./modules/auth/viewer";
import { createConversationLoaders } from "./modules/conversations/conversation.loaders";
import { createMessageLoaders } from "./modules/messages/message.loaders";
import { PresenceStatus, type Presence } from "./modules/presence/presence.type";
import { User } from "./modules/users/user.entity";
import { createUserLoaders } from "./modules/users/user.loaders";

/** What a request scope is made from: built once by the composition, shared by every request. */
export interface ScopeDeps {
  orm: MikroORM;
  logger: Logger;
  /** The presence of users as the viewer may see it (presence.service.ts). */
  presence: (em: EntityManager, viewerId: string, ids: readonly string[]) => Promise<Presence[]>;
}

function createLoaders(deps: ScopeDeps, em: EntityManager, viewer: Viewer | null) {
  const loaders = {
    presence: new DataLoader<string, Presence>((ids) =>
      viewer ? deps.presence(em, viewer.id, ids) : Promise.resolve(ids.map(hidden)),
    ),
    ...createUserLoaders(em),
    ...createConversationLoaders(em, viewer?.id ?? null),
    ...createMessageLoaders(em),
  };
  // The viewer's row is what their token says (ensureUser keeps it so): no query for it.
  if (viewer) {
    loaders.user.prime(
      viewer.id,
      Object.assign(new User(), {
        id: viewer.id,
        displayName: viewer.displayName,
        roles: viewer.roles,
      }),
    );
  }
  return loaders;
}
export type Loaders = ReturnType<typeof createLoaders>;

const hidden = (userId: string): Presence => ({
  userId,
  status: PresenceStatus.OFFLINE,
  lastSeenAt: null,
});

/**
 * What one request (an HTTP request, a WebSocket operation, or one delivered event) works with:
 * who asks, an EntityManager fork, its DataLoaders and a logger that names the request. Services
 * receive it with every call; they get each other through their constructors, never from here.
 * A subscription keeps its scope for its lifetime, so `renew()` gives each delivered event a
 * fresh EntityManager fork and fresh loaders.
 */
export class RequestScope {
  // Made on first use: a subscription's scope, or an event's, often never touches them.
  private currentEm: EntityManager | null = null;
  private currentLoaders: Loaders | null = null;
  private currentLog: Logger | null = null;

  constructor(
    protected readonly deps: ScopeDeps,
    readonly viewer: Viewer | null,
    readonly requestId: string = randomUUID(),
  ) {}

  get em(): EntityManager {
    return (this.currentEm ??= this.deps.orm.em.fork());
  }

  get loaders(): Loaders {
    return (this.currentLoaders ??= createLoaders(this.deps, this.em, this.viewer));
  }

  get log(): Logger {
    return (this.currentLog ??= this.deps.logger.child({
      requestId: this.requestId,
      userId: this.viewer?.id,
    }));
  }

  renew(): void {
    this.currentEm = null;
    this.currentLoaders = null;
  }

  requireViewer(): Viewer {
    if (!this.viewer) throw new UnauthenticatedError();
    return this.viewer;
  }
}
