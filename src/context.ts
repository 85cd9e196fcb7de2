import type { MikroORM } from "@mikro-orm/postgresql";
import type { Config } from "./config";
import type { Logger } from "./core/logger";
import type { Metrics } from "./core/metrics";
import type { PubSub } from "./core/pubsub";
import type { VerifyToken } from "./modules/auth/token.service";
import type { Viewer } from "./modules/auth/viewer";
import type { ConversationService } from "./modules/conversations/conversation.service";
import type { ConversationStreams } from "./modules/conversations/conversation.stream";
import type { MembershipService } from "./modules/conversations/membership.service";
import type { MessageService } from "./modules/messages/message.service";
import type { MessageStreams } from "./modules/messages/message.stream";
import type { NotificationRelay } from "./modules/notifications/notification.relay";
import type { BlockService } from "./modules/moderation/block.service";
import type { ReportService } from "./modules/moderation/report.service";
import type { Safety } from "./modules/moderation/safety";
import type { PresenceService } from "./modules/presence/presence.service";
import type { ReceiptService } from "./modules/receipts/receipt.service";
import type { TypingService } from "./modules/typing/typing.service";
import type { UserService } from "./modules/users/user.service";
import { RequestScope, type ScopeDeps } from "./request-scope";

/** What one running instance holds: built once by buildApp, shared by every request. */
export interface AppServices {
  config: Readonly<Config>;
  /** What each request's scope is made from. */
  scope: ScopeDeps;
  orm: MikroORM;
  pubsub: PubSub;
  logger: Logger;
  verifyToken: VerifyToken;
  users: UserService;
  conversations: ConversationService;
  membership: MembershipService;
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

/**
 * The context of a GraphQL operation: its request scope, and the services, which only resolvers
 * reach through it (services receive the scope and get each other through their constructors).
 */
export class Context extends RequestScope {
  constructor(
    readonly services: AppServices,
    viewer: Viewer | null,
    requestId?: string,
  ) {
    super(services.scope, viewer, requestId);
  }
}
