import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import express, { type Request, type Router } from "express";

/** Where the playground's scripts and styles are served from; nothing comes from a CDN. */
export const PLAYGROUND_ASSETS = "/playground/assets";

/** The headers editor starts with this; the page sends no Authorization until it is replaced. */
const TOKEN_TEMPLATE = "Bearer <paste a token, e.g. from `npm run token -- alice`>";

/** Browser builds shipped inside the npm packages, served from node_modules. */
const ASSETS: Record<string, { pkg: string; file: string; type: string }> = {
  "react.production.min.js": { pkg: "react", file: "umd/react.production.min.js", type: "js" },
  "react-dom.production.min.js": {
    pkg: "react-dom",
    file: "umd/react-dom.production.min.js",
    type: "js",
  },
  "graphiql.min.js": { pkg: "graphiql", file: "graphiql.min.js", type: "js" },
  "graphiql.min.css": { pkg: "graphiql", file: "graphiql.min.css", type: "css" },
  "graphql-ws.min.js": { pkg: "graphql-ws", file: "umd/graphql-ws.min.js", type: "js" },
};

/** A package's folder; some packages' `exports` hide both package.json and their browser builds. */
function packageDir(name: string): string {
  for (const base of require.resolve.paths(name) ?? []) {
    const dir = path.join(base, name);
    if (existsSync(path.join(dir, "package.json"))) return dir;
  }
  throw new Error(`The playground needs the npm package ${name}; run npm install`);
}

/** A browser asking for a page (Accept prefers text/html), not a GraphQL client doing a GET. */
function wantsPage(req: Request): boolean {
  return (
    req.query.query === undefined &&
    req.accepts(["application/json", "application/graphql-response+json", "text/html"]) ===
      "text/html"
  );
}

/**
 * GraphiQL at GET `graphqlPath` for browsers, with its assets under PLAYGROUND_ASSETS. Queries and
 * mutations go over HTTP, subscriptions over graphql-ws; both take the Authorization header from
 * GraphiQL's headers editor (for graphql-ws as connectionParams.authorization).
 */
export function playground(graphqlPath: string): Router {
  const files = new Map(
    Object.entries(ASSETS).map(([name, a]) => [name, path.join(packageDir(a.pkg), a.file)]),
  );
  for (const [name, file] of files) {
    if (!existsSync(file)) throw new Error(`Playground asset ${name} not found at ${file}`);
  }
  const router = express.Router();
  router.get(`${PLAYGROUND_ASSETS}/:name`, (req, res, next) => {
    const file = files.get(req.params.name);
    if (!file) return next();
    res.sendFile(file, { maxAge: "1h" });
  });
  router.get(graphqlPath, (req, res, next) => {
    if (!wantsPage(req)) return next();
    const nonce = randomBytes(16).toString("base64");
    res
      .set({
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "content-security-policy": [
          "default-src 'none'",
          `script-src 'self' 'nonce-${nonce}'`,
          "style-src 'self' 'unsafe-inline'",
          "img-src 'self' data:",
          "font-src 'self' data:",
          "connect-src 'self'",
          "base-uri 'none'",
          "form-action 'none'",
          "frame-ancestors 'none'",
        ].join("; "),
      })
      .send(page(graphqlPath, nonce));
  });
  return router;
}

const DEFAULT_QUERY = `# Paste a token into the Authorization header below
# (npm run token -- alice --name Alice), then run an operation.
# Subscriptions go over graphql-ws with the same token.

query Me {
  me {
    id
    displayName
  }
}

subscription MessageAdded {
  messageAdded {
    seq
    text
    sender {
      id
      displayName
    }
  }
}
`;

function page(graphqlPath: string, nonce: string): string {
  const asset = (name: string) => `${PLAYGROUND_ASSETS}/${name}`;
  const settings = JSON.stringify({
    path: graphqlPath,
    template: TOKEN_TEMPLATE,
    defaultQuery: DEFAULT_QUERY,
  }).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chat API playground</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${asset("graphiql.min.css")}">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading the playground…</div>
<script src="${asset("react.production.min.js")}"></script>
<script src="${asset("react-dom.production.min.js")}"></script>
<script src="${asset("graphiql.min.js")}"></script>
<script src="${asset("graphql-ws.min.js")}"></script>
<script nonce="${nonce}">
(function () {
  var settings = ${settings};
  var endpoint = location.origin + settings.path;
  var wsUrl = endpoint.replace(/^http/, "ws");

  // The Authorization header from the headers editor, unless it is still the template.
  function authorization(headers) {
    for (var key in headers) {
      if (key.toLowerCase() !== "authorization") continue;
      var value = String(headers[key]).trim();
      if (value && value !== settings.template) return value;
    }
    return null;
  }

  // One graphql-ws connection per token; a new token opens a new connection.
  var ws = null;
  var wsToken = null;
  function wsClient(auth) {
    if (ws && wsToken === auth) return ws;
    if (ws) ws.dispose();
    wsToken = auth;
    ws = graphqlWs.createClient({
      url: wsUrl,
      connectionParams: auth ? { authorization: auth } : {},
    });
    return ws;
  }

  function isSubscription(params, opts) {
    var doc = opts && opts.documentAST;
    if (!doc) return /^\\s*subscription\\b/.test(params.query);
    var ops = doc.definitions.filter(function (d) { return d.kind === "OperationDefinition"; });
    var op = params.operationName
      ? ops.filter(function (o) { return o.name && o.name.value === params.operationName; })[0]
      : ops[0];
    return Boolean(op) && op.operation === "subscription";
  }

  function fetcher(params, opts) {
    var headers = {};
    var given = (opts && opts.headers) || {};
    for (var key in given) if (key.toLowerCase() !== "authorization") headers[key] = given[key];
    var auth = authorization(given);
    if (isSubscription(params, opts)) {
      var client = wsClient(auth);
      return {
        subscribe: function (sink) {
          var stop = client.subscribe(params, {
            next: function (value) { sink.next(value); },
            complete: function () { sink.complete(); },
            error: function (error) {
              if (Array.isArray(error)) {
                sink.next({ errors: error });
                sink.complete();
              } else if (error && typeof error.code === "number") {
                sink.error(new Error("WebSocket closed: " + error.code + " " + (error.reason || "")));
              } else {
                sink.error(error);
              }
            },
          });
          return { unsubscribe: stop };
        },
      };
    }
    headers["content-type"] = "application/json";
    headers.accept = "application/graphql-response+json, application/json";
    if (auth) headers.authorization = auth;
    return fetch(endpoint, { method: "POST", headers: headers, body: JSON.stringify(params) })
      .then(function (response) { return response.json(); });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: settings.defaultQuery,
      defaultHeaders: JSON.stringify({ Authorization: settings.template }, null, 2),
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    }),
  );
})();
</script>
</body>
</html>
`;
}
