import { Topic, type PubSub } from "../../core/pubsub";
import type { RequestScope } from "../../request-scope";
import type { Message } from "./message.entity";
import { toPayload, type MessageAddedEvent, type MessageUpdatedEvent } from "./message.events";

/**
 * The one way a message reaches subscribers, after its transaction committed: `messageAdded` for
 * a new message (a user's or a SYSTEM message of a membership change), `messageUpdated` for an
 * edit or a deletion, each with the audience fixed at commit. A lost publish is recovered:
 * subscribers fill seq gaps from the database.
 */
export class MessagePublisher {
  constructor(private readonly pubsub: PubSub) {}

  async added(scope: RequestScope, message: Message, audience: string[]): Promise<void> {
    // A user's message is the viewer's own: the sender is who the token says.
    const viewer = message.senderId ? scope.requireViewer() : null;
    const sender = viewer ? { id: viewer.id, displayName: viewer.displayName } : null;
    const event: MessageAddedEvent = { message: toPayload(message, sender), audience };
    await this.publish(scope, Topic.messageAdded(message.conversationId), event, message);
  }

  async updated(scope: RequestScope, message: Message, audience: string[]): Promise<void> {
    const sender = message.senderId ? await scope.loaders.user.load(message.senderId) : null;
    const event: MessageUpdatedEvent = { message: toPayload(message, sender), audience };
    await this.publish(scope, Topic.messageUpdated(message.conversationId), event, message);
  }

  /** The scope's logger is made only when a publish fails: a send needs none otherwise. */
  private async publish(scope: RequestScope, topic: string, event: object, message: Message) {
    await this.pubsub.publish(topic, event).catch((error) => {
      scope.log.error({ err: error, messageId: message.id, topic }, "message publish failed");
    });
  }
}
