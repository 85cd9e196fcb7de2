import { parseArgs } from "node:util";
import { loadConfig } from "./config";
import { mintToken } from "./modules/auth/token.service";
import { MODERATOR_ROLE } from "./modules/auth/viewer";

/** `npm run token -- <userId> [--name N] [--moderator] [--expires 24h]`: prints an access token. */
async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: "string" },
      moderator: { type: "boolean", default: false },
      expires: { type: "string", default: "24h" },
    },
  });
  const [userId] = positionals;
  if (!userId) {
    console.error("usage: npm run token -- <userId> [--name N] [--moderator] [--expires 24h]");
    process.exit(2);
  }
  const { jwt } = loadConfig();
  if (!jwt.secret) {
    console.error("JWKS_URL is set: tokens come from your identity provider, not from here.");
    process.exit(2);
  }
  const token = await mintToken(jwt.secret, userId, {
    name: values.name,
    roles: values.moderator ? [MODERATOR_ROLE] : [],
    expiresIn: values.expires,
    issuer: jwt.issuer,
    audience: jwt.audience,
  });
  console.log(token);
}

void main();
