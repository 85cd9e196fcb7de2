import type { AppServices } from "../context";
import { isUnavailable } from "../core/errors";
import { connectionParamsToken } from "../modules/auth/token.service";
import type { Viewer } from "../modules/auth/viewer";

/** graphql-ws close code for a refused or expired token, as graphql-ws itself uses for onConnect. */
export const CLOSE_FORBIDDEN = 4403;
/** Refused because the user has MAX_CONNECTIONS_PER_USER open; graphql-ws clients do not retry it. */
export const CLOSE_TOO_MANY_CONNECTIONS = 4429;
/** "Try Again Later": PostgreSQL or Redis did not answer while the connection was set up. Retryable. */
export const CLOSE_UNAVAILABLE = 1013;
/** setTimeout's ceiling; tokens living longer than ~24 days are re-armed. */
export const MAX_TIMER_MS = 2_147_483_647;

/** All the lifecycle does to a socket: close it with a code that says why. */
export interface ClosableSocket {
  close(code: number, reason: string): void;
}

/** What the lifecycle keeps per connection (on graphql-ws's `extra`). */
export interface ConnectionState {
  readonly socket: ClosableSocket;
  viewer?: Viewer;
  expiryTimer?: NodeJS.Timeout;
  /** The connection's admission while onConnect runs: the viewer once counted in presence. */
  admission?: Promise<Viewer | null>;
  closed?: boolean;
}

export type LifecycleServices = Pick<
  AppServices,
  "verifyToken" | "safety" | "users" | "presence" | "typing" | "orm" | "logger"
>;

/**
 * A WebSocket connection from connection_init to close: admission (token, connection rate,
 * presence), closing it when its token expires, and releasing its presence and typing.
 */
export class ConnectionLifecycle {
  constructor(private readonly services: LifecycleServices) {}

  /** graphql-ws's onConnect: true once admitted; on false, graphql-ws closes with 4403. */
  async open(
    connection: ConnectionState,
    connectionParams: Readonly<Record<string, unknown>> | undefined,
  ): Promise<boolean> {
    const admission = this.admit(connection.socket, connectionParams);
    connection.admission = admission;
    const viewer = await admission;
    if (!viewer || connection.closed) return false;
    connection.viewer = viewer;
    this.scheduleExpiry(connection, viewer.expiresAt);
    return true;
  }

  /**
   * graphql-ws's onClose. It can run while open() is still admitting (a client that aborts its
   * handshake): it waits for the admission and releases what it took, so the registry stays exact.
   */
  async close(connection: ConnectionState): Promise<void> {
    connection.closed = true;
    clearTimeout(connection.expiryTimer);
    const viewer = await connection.admission?.catch(() => null);
    if (!viewer) return;
    const { services } = this;
    // graphql-ws does not catch what this throws: a rejection here would end the process.
    try {
      await services.presence.disconnect(viewer.id);
      await services.typing.stopAll(services.orm.em.fork(), viewer);
    } catch (error) {
      services.logger.warn({ err: error, userId: viewer.id }, "connection cleanup failed");
    }
  }

  /**
   * Checks the token, the connection rate and the user's connection count; the viewer once the
   * connection counts in presence, or null (the socket is closed with a code that says why).
   */
  async admit(
    socket: ClosableSocket,
    connectionParams: Readonly<Record<string, unknown>> | undefined,
  ): Promise<Viewer | null> {
    const { services } = this;
    const token = connectionParamsToken(connectionParams);
    if (!token) return null;
    let viewer: Viewer;
    try {
      viewer = await services.verifyToken(token);
    } catch {
      return null;
    }
    try {
      await services.safety.limiters.consume("connections", viewer.id);
    } catch {
      socket.close(CLOSE_TOO_MANY_CONNECTIONS, "Too many connection attempts");
      return null;
    }
    try {
      await services.users.ensureUser(services.orm.em, viewer);
      if (!(await services.presence.connect(viewer.id))) {
        socket.close(CLOSE_TOO_MANY_CONNECTIONS, "Too many connections for this user");
        return null;
      }
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      // graphql-ws would close with 4500, which its clients never retry.
      services.logger.warn({ err: error }, "connection refused: a dependency is unavailable");
      socket.close(CLOSE_UNAVAILABLE, "Service unavailable; retry");
      return null;
    }
    return viewer;
  }

  /** Closes the socket with 4403 when the token expires, re-arming past setTimeout's ceiling. */
  scheduleExpiry(connection: ConnectionState, expiresAt: number): void {
    const socket = connection.socket;
    const delay = expiresAt - Date.now();
    connection.expiryTimer = setTimeout(
      () => {
        if (delay > MAX_TIMER_MS) this.scheduleExpiry(connection, expiresAt);
        else socket.close(CLOSE_FORBIDDEN, "Token expired");
      },
      Math.max(0, Math.min(delay, MAX_TIMER_MS)),
    );
  }
}
