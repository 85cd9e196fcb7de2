import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/** A free loopback port; the socket server binds it right after. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * PGlite (PostgreSQL compiled to WebAssembly) behind pglite-socket, so the application talks to it
 * over the wire protocol with the same driver and SQL as in production. Data lives in dataDir.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const dir = path.join(dataDir, "pglite");
  await mkdir(dir, { recursive: true });
  const { PGlite } = await import("@electric-sql/pglite");
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  const db = await PGlite.create(dir);
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port });
  await server.start();
  return {
    // PGlite has one database; the name in the URL is ignored (STACK.md, trap 9).
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
