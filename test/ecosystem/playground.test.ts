import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { loadConfig } from "../../src/config";
import { startTestApp, testEnv, type TestApp } from "../helpers/app";
import { waitForChannel } from "../helpers/client";
import { createDirect, sendText } from "../helpers/operations";
import { testUser, type TestUser } from "../helpers/tokens";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
/** In CI the browser test always runs (.ci/run installs chromium); elsewhere it may be skipped. */
const runInBrowser = existsSync(CHROMIUM) || Boolean(process.env.CI);
if (!runInBrowser) {
  console.warn(
    [
      "",
      "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
      `!! SKIPPED: the playground's browser tests. ${CHROMIUM} is missing.`,
      "!! Install it with: apt-get update && apt-get install -y chromium (CI does).",
      "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
      "",
    ].join("\n"),
  );
}

/**
 * The little of the DOM the functions run in the page touch; the project compiles without lib "dom".
 * Written as `(globalThis as unknown as Dom).document` inside them, since they cannot close over.
 */
interface Dom {
  document: {
    querySelector(selector: string): {
      textContent: string | null;
      /** GraphiQL 3 keeps CodeMirror's instance here, with the editor's parsed operations. */
      CodeMirror?: { operations?: Array<{ name?: { value: string } }> | null };
    } | null;
  };
}

const QUERY_EDITOR = ".graphiql-query-editor";
const HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden)";

/** Replaces an editor's text the way a person pastes: focus, select all, insert. */
async function paste(page: Page, editor: string, text: string) {
  await page.click(`${editor} .CodeMirror-lines`);
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(text);
}

/**
 * Runs the only operation in the query editor, named `name`. GraphiQL parses the editor a moment
 * after each change (onto CodeMirror's instance); a click before that would act on the previous text.
 */
async function run(page: Page, name: string) {
  await page.waitForFunction(
    ([selector, wanted]) => {
      const editor = (globalThis as unknown as Dom).document.querySelector(selector);
      const names = editor?.CodeMirror?.operations?.map((op) => op.name?.value);
      return names?.length === 1 && names[0] === wanted;
    },
    [`${QUERY_EDITOR} .CodeMirror`, name],
  );
  await page.click(".graphiql-execute-button");
}

async function resultContains(page: Page, text: string, timeout = 10_000) {
  const shown = () =>
    page.evaluate(
      () => (globalThis as unknown as Dom).document.querySelector(".result-window")?.textContent,
    );
  await page
    .waitForFunction(
      (wanted) =>
        (globalThis as unknown as Dom).document
          .querySelector(".result-window")
          ?.textContent?.includes(wanted) ?? false,
      text,
      { timeout },
    )
    .catch(async (error: Error) => {
      throw new Error(`${error.message}\nThe result window shows: ${await shown()}`);
    });
}

(runInBrowser ? describe : describe.skip)("Playground at GET /graphql (headless Chromium)", () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;
  let alice: TestUser;
  let bob: TestUser;
  let origin: string;
  /** URLs (http or ws) anywhere but the server under test. */
  const offHost = (urls: string[]) =>
    urls.filter((url) => new URL(url).host !== new URL(origin).host);
  /** Every URL the page asked for, HTTP and WebSocket. */
  const requested: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // One at a time, so afterAll can stop whatever started when a later step (the browser) fails.
    app = await startTestApp(testEnv());
    [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    origin = new URL(app.url).origin;
    page = await browser.newPage();
    page.on("request", (request) => requested.push(request.url()));
    page.on("websocket", (socket) => requested.push(socket.url()));
    page.on("pageerror", (error) => pageErrors.push(error.message));
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it("should load GraphiQL with no request leaving this server", async () => {
    const response = await page.goto(app.url);
    expect(response?.status()).toBe(200);
    await page.waitForSelector(`${QUERY_EDITOR} .CodeMirror`);
    await page.waitForSelector(`${HEADERS_EDITOR} .CodeMirror`);
    // The schema loads by introspection, without a token.
    await page.waitForFunction(() =>
      (globalThis as unknown as Dom).document
        .querySelector(".graphiql-container")
        ?.textContent?.includes("Authorization"),
    );
    expect(requested.length).toBeGreaterThan(1);
    expect(offHost(requested)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it("should show the result of a `me` query run with a pasted token", async () => {
    const sent: Array<string | undefined> = [];
    const record = (request: {
      url(): string;
      method(): string;
      headers(): Record<string, string>;
    }) => {
      if (request.method() === "POST") sent.push(request.headers().authorization);
    };
    page.on("request", record);
    await paste(page, HEADERS_EDITOR, JSON.stringify({ Authorization: `Bearer ${alice.token}` }));
    await paste(page, QUERY_EDITOR, "query Me { me { id displayName } }");
    await run(page, "Me");
    await resultContains(page, `"id": "${alice.id}"`);
    page.off("request", record);
    expect(sent).toContain(`Bearer ${alice.token}`);
  });

  it("should show, in a running subscription, a message sent by another client", async () => {
    const conversation = await createDirect(app.url, bob, alice, "playground");
    await paste(
      page,
      QUERY_EDITOR,
      `subscription Live { messageAdded(conversationId: "${conversation.id}") { seq text sender { id } } }`,
    );
    await run(page, "Live");
    // The subscription is live once this instance listens on the conversation's channel.
    await waitForChannel(
      `${app.app.services.config.redisPrefix}conversation:${conversation.id}:message-added`,
    );
    await sendText(app.url, bob, conversation.id, "hello from another client");
    await resultContains(page, "hello from another client");
    await resultContains(page, `"id": "${bob.id}"`);
    const sockets = requested.filter((url) => url.startsWith("ws"));
    expect(sockets).toEqual([`${origin.replace(/^http/, "ws")}/graphql`]);
    expect(offHost(requested)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});

describe("Playground off (production default)", () => {
  it("should be off in production unless PLAYGROUND=true, and on elsewhere by default", () => {
    const production = {
      NODE_ENV: "production",
      DATABASE_URL: "postgres://db/chat",
      REDIS_URL: "redis://redis:6379",
      JWT_SECRET: "a-production-secret-long-enough-for-hs256",
    };
    expect(loadConfig(production).playground).toBe(false);
    expect(loadConfig({ ...production, PLAYGROUND: "true" }).playground).toBe(true);
    expect(loadConfig({}).playground).toBe(true);
    expect(loadConfig({ PLAYGROUND: "false" }).playground).toBe(false);
  });

  it("should serve neither the page nor its assets, nor Apollo's CDN landing page, when off", async () => {
    const app = await startTestApp(testEnv({ PLAYGROUND: "false" }));
    try {
      const page = await fetch(app.url, { headers: { accept: "text/html" } });
      const body = await page.text();
      expect(page.headers.get("content-type")).not.toMatch(/text\/html/);
      expect(body).not.toMatch(/graphiql|<script|cdn/i);
      const asset = await fetch(new URL("/playground/assets/graphiql.min.js", app.url));
      expect(asset.status).toBe(404);
    } finally {
      await app.stop();
    }
  });
});
