import type { IncomingMessage, ServerResponse } from "node:http";
import { HeaderMap, type ApolloServer, type BaseContext } from "@apollo/server";

/** The context of one HTTP request, made from the request as node:http gives it. */
export type HttpContextFunction<TContext> = (
  req: IncomingMessage,
  res: ServerResponse,
) => Promise<TContext>;

export interface GraphqlHttpOptions<TContext> {
  context: HttpContextFunction<TContext>;
  /** Larger bodies are answered 413 without being read. */
  maxBodyBytes: number;
  /** Told each request's GraphQL body once parsed (the request log names its operation). */
  onBody?: (res: ServerResponse, body: unknown) => void;
}

/**
 * GraphQL over HTTP on node:http: the body read (JSON, at most maxBodyBytes), Apollo's
 * executeHTTPGraphQLRequest, its answer written, as Apollo's own integrations do. The GraphQL
 * endpoint does without Express because its middleware chain (router, body-parser, type-is,
 * res.send's ETag) cost a third of a send's CPU over HTTP: W6a's "stack + least I/O" variant
 * went from 1.02 to 0.69 ms per send at 500/s, and from 500/s to 1,500/s within p99 50 ms, on
 * this machine. Express serves everything else (health, readiness, metrics, the playground).
 */
export function graphqlOverHttp<TContext extends BaseContext>(
  apollo: ApolloServer<TContext>,
  options: GraphqlHttpOptions<TContext>,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    readJsonBody(req, options.maxBodyBytes).then(
      (body) => execute(apollo, options, req, res, body),
      (error: unknown) => answerBodyError(res, error, options.maxBodyBytes),
    );
  };
}

async function execute<TContext extends BaseContext>(
  apollo: ApolloServer<TContext>,
  options: GraphqlHttpOptions<TContext>,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
): Promise<void> {
  try {
    options.onBody?.(res, body);
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
    }
    const url = req.url ?? "";
    const query = url.indexOf("?");
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: (req.method ?? "GET").toUpperCase(),
        headers,
        search: query === -1 ? "" : url.slice(query),
        body,
      },
      context: () => options.context(req, res),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === "complete") {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  } catch {
    // Apollo answers every GraphQL failure itself; this is a fault of the integration.
    if (res.headersSent) {
      res.destroy();
      return;
    }
    answer(res, 500, "Internal server error", "INTERNAL_SERVER_ERROR");
  }
}

/** A body that cannot be GraphQL: 413 over the limit, 400 when it is not JSON. */
class BodyError extends Error {
  constructor(readonly status: 400 | 413) {
    super(status === 413 ? "body too large" : "malformed body");
  }
}

/**
 * The request's body parsed as JSON when its Content-Type says JSON (an empty one is `{}`), else
 * undefined, which Apollo answers as a request it cannot take (400, or 415 for GET). Only an
 * object or an array is JSON here, as body-parser's strict mode has it.
 */
function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers["content-type"]?.split(";")[0].trim().toLowerCase();
  const isJson = type === "application/json";
  if (req.method === "GET" || req.method === "HEAD") return Promise.resolve(undefined);
  if (Number(req.headers["content-length"]) > limit) return Promise.reject(new BodyError(413));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        // The rest is read and dropped, so the connection stays usable for the answer.
        req.resume();
        reject(new BodyError(413));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("error", reject);
    req.once("end", () => {
      if (size > limit) return;
      if (!isJson) return resolve(undefined);
      const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString("utf8");
      const start = /\S/.exec(text)?.[0];
      if (start === undefined) return resolve({});
      if (start !== "{" && start !== "[") return reject(new BodyError(400));
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new BodyError(400));
      }
    });
  });
}

/** Bodies that never reach GraphQL (too large, not JSON) still get a GraphQL-shaped answer. */
function answerBodyError(res: ServerResponse, error: unknown, maxBodyBytes: number): void {
  if (!(error instanceof BodyError)) {
    // The connection failed while the body was read: nobody is left to answer.
    res.destroy();
    return;
  }
  const message =
    error.status === 413 ? `Request body over ${maxBodyBytes} bytes` : "Malformed request body";
  answer(res, error.status, message, "BAD_REQUEST");
}

function answer(res: ServerResponse, status: number, message: string, code: string): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}
