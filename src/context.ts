import { randomUUID } from "node:crypto";
import DataLoader from "dataloader";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { Config } from "./config";
import { UnauthenticatedError } from "./core/errors";
import type { Logger } from "./core/logger";
import type { Metrics } from "./core/metrics";
import type { PubSub } from "./core/pubsub";
import type { VerifyToken } from "./modules/auth/token.service";
import type { Viewer } from "./modules/auth/viewer";
import { createConversationLoaders } from "./modules/conversations/conversation.loaders";
import type { ConversationService } from "./modules/conversations/conversation.service";
import type { ConversationStreams } from "./modules/conversations/conversation.stream";
import { createMessageLoaders } from "./modules/messages/message.loaders";
import type { MessageService } from "./modules/messages/message.service";
import type { MessageStreams } from "./modules/messages/message.stream";
import type { NotificationRelay } from "./modules/notifications/notification.relay";
import type { BlockService } from "./modules/moderation/block.service";
import type { ReportService } from "./modules/moderation/report.service";
import type { Safety } from "./modules/moderation/safety";
import type { PresenceService } from "./modules/presence/presence.service";
import { PresenceStatus, type Presence } from "./modules/presence/presence.type";
import type { ReceiptService } from "./modules/receipts/receipt.service";
import type { TypingService } from "./modules/typing/typing.service";
import { User } from "./modules/users/user.entity";
import { createUserLoaders } from "./modules/users/user.loaders";
import type { UserService } from "./modules/users/user.service";

/** What one running instance holds: built once by buildApp, shared by every request. */
export interface AppServices {
  config: Readonly<Config>;
  orm: MikroORM;
  pubsub: PubSub;
  logger: Logger;
  verifyToken: VerifyToken;
  users: UserService;
  conversations: ConversationService;
  messages: MessageService;
  conversationStreams: ConversationStreams;
  messageStreams: MessageStreams;
  receipts: ReceiptService;
  typing: TypingService;
  presence: PresenceService;
  safety: Safety;
  blocks: BlockService;
  reports: ReportService;
  metrics: Metrics;
  notifications: NotificationRelay;
}

function createLoaders(app: AppServices, em: EntityManager, viewer: Viewer | null) {
  const loaders = {
    presence: new DataLoader<string, Presence>((ids) =>
      viewer ? app.presence.statuses(em, viewer.id, ids) : Promise.resolve(ids.map(hidden)),
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
 * One context shape for HTTP and WebSocket. A subscription keeps its context for its lifetime, so
 * `renew()` gives each delivered event a fresh EntityManager fork and fresh loaders.
 */
export class Context {
  // Made on first use: a subscription's context, or an event's, often never touches them.
  private currentEm: EntityManager | null = null;
  private currentLoaders: Loaders | null = null;
  private currentLog: Logger | null = null;

  constructor(
    readonly app: AppServices,
    readonly viewer: Viewer | null,
    readonly requestId: string = randomUUID(),
  ) {}

  get em(): EntityManager {
    return (this.currentEm ??= this.app.orm.em.fork() as EntityManager);
  }

  get loaders(): Loaders {
    return (this.currentLoaders ??= createLoaders(this.app, this.em, this.viewer));
  }

  get log(): Logger {
    return (this.currentLog ??= this.app.logger.child({
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
