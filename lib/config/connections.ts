// How this process reaches the cluster's NATS and Redis: URLs, credentials and TLS turned into the
// connection options of nats.js (the transporter and the event log share them) and ioredis.
// Whoever reaches NATS can call every action, so these carry secrets: nothing here is logged.
import { readFileSync } from "node:fs";
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from "nats";
import type { RedisOptions } from "ioredis";
import { ConfigError } from "./error";


export interface NatsSettings {
  /** TRANSPORTER: comma list of nats:// or tls:// URLs, optionally with user:password@ or token@. */
  transporter: string;
  /** NATS_CA: a PEM file of the CA that signed the server's certificate (implies TLS). */
  natsCa: string;
  /** NATS_CREDS: a creds file (user JWT + nkey seed) or a file holding an nkey seed. */
  natsCreds: string;
}

export interface RedisSettings {
  redisUrl: string;
  /** REDIS_CA: a PEM file of the CA that signed the Redis server's certificate (rediss:// only). */
  redisCa: string;
  /** REDIS_PASSWORD: used when the URL carries none. */
  redisPassword: string;
}

export interface NatsServerUrl {
  tls: boolean;
  hostPort: string;
  user?: string;
  pass?: string;
  token?: string;
}

/** Parses TRANSPORTER (one URL or a comma list). Throws a message that never repeats a secret. */
export function parseNatsUrls(raw: string): NatsServerUrl[] {
  const parts = raw.split(",").map((s) => s.trim()).filter(Boolean);
  if (!parts.length) throw new ConfigError("TRANSPORTER", "expected nats://host:4222 or tls://host:4222");
  return parts.map((part, i) => {
    let u: URL;
    try {
      u = new URL(part);
    } catch {
      throw new ConfigError("TRANSPORTER", `entry ${i + 1} is not a URL (${redactUrl(part)})`);
    }
    if (u.protocol !== "nats:" && u.protocol !== "tls:") throw new ConfigError("TRANSPORTER", `entry ${i + 1}: expected nats:// or tls://, got ${u.protocol}//`);
    if (!u.hostname) throw new ConfigError("TRANSPORTER", `entry ${i + 1} has no host`);
    if (u.pathname && u.pathname !== "/" && u.pathname !== "") throw new ConfigError("TRANSPORTER", `entry ${i + 1}: a NATS URL has no path`);
    const out: NatsServerUrl = { tls: u.protocol === "tls:", hostPort: `${u.hostname}:${u.port || "4222"}` };
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    // nats://user:password@host is a user; nats://secret@host is a token (NATS's own convention)
    if (user && u.password !== "") Object.assign(out, { user, pass });
    else if (user) out.token = user;
    return out;
  });
}

function readSecretFile(variable: string, file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(variable, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The nats.js options of the transporter and the event log (servers, credentials, TLS). */
export function natsConnectionOptions(s: NatsSettings): ConnectionOptions {
  const urls = parseNatsUrls(s.transporter);
  const opts: ConnectionOptions = { servers: urls.map((u) => u.hostPort) };
  const withUser = urls.find((u) => u.user !== undefined);
  const withToken = urls.find((u) => u.token !== undefined);
  if (withUser && withToken) throw new ConfigError("TRANSPORTER", "mixes user:password@ and token@ entries; use one kind of credential");
  if (withUser) Object.assign(opts, { user: withUser.user, pass: withUser.pass });
  if (withToken) opts.token = withToken.token;
  if (s.natsCreds) {
    if (withUser || withToken) throw new ConfigError("NATS_CREDS", "is set together with credentials in TRANSPORTER; use one of them");
    opts.authenticator = natsAuthenticator(s.natsCreds);
  }
  const wantsTls = urls.some((u) => u.tls) || !!s.natsCa;
  if (urls.some((u) => u.tls) && urls.some((u) => !u.tls)) throw new ConfigError("TRANSPORTER", "mixes tls:// and nats:// entries; TLS is all or nothing");
  if (wantsTls) {
    // set tls: nats.js then refuses a server that does not offer TLS, and verifies its certificate
    opts.tls = s.natsCa ? { ca: Buffer.from(readSecretFile("NATS_CA", s.natsCa)).toString("utf8") } : {};
  }
  return opts;
}

function natsAuthenticator(file: string) {
  const bytes = readSecretFile("NATS_CREDS", file);
  const text = Buffer.from(bytes).toString("utf8");
  if (text.includes("-----BEGIN NATS USER JWT-----")) {
    if (!text.includes("-----BEGIN USER NKEY SEED-----")) throw new ConfigError("NATS_CREDS", `${file} has a user JWT but no nkey seed`);
    return credsAuthenticator(bytes);
  }
  const seed = text.trim();
  if (/^SU[A-Z2-7]{56}$/.test(seed)) return nkeyAuthenticator(new TextEncoder().encode(seed));
  throw new ConfigError("NATS_CREDS", `${file} is neither a NATS creds file nor a user nkey seed (SU...)`);
}

/** ioredis options added to REDIS_URL: the CA of rediss:// and REDIS_PASSWORD. */
export function redisConnectionOptions(s: RedisSettings): RedisOptions {
  const opts: RedisOptions = {};
  if (!s.redisUrl) return opts;
  const tls = s.redisUrl.startsWith("rediss://");
  if (s.redisCa && !tls) throw new ConfigError("REDIS_CA", "is set but REDIS_URL is not rediss://; use rediss:// for TLS");
  if (tls) opts.tls = s.redisCa ? { ca: Buffer.from(readSecretFile("REDIS_CA", s.redisCa)).toString("utf8") } : {};
  // a password in the URL wins (ioredis reads the URL first)
  if (s.redisPassword) opts.password = s.redisPassword;
  return opts;
}

/** A URL with its password (or token) replaced, for error messages and logs. */
export function redactUrl(raw: string): string {
  return raw
    .split(",")
    .map((part) => part.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_m, scheme: string, auth: string) => `${scheme}${auth.includes(":") ? `${auth.slice(0, auth.indexOf(":"))}:***` : "***"}@`))
    .join(",");
}
