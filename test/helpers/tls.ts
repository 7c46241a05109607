// Certificates and NATS credentials made by the test itself: a throwaway CA and a server
// certificate for 127.0.0.1/localhost (openssl), nkey users and a creds file (a user JWT signed by
// an account signed by an operator, the way `nsc` writes them).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { nkeys } from "nats";

const run = promisify(execFile);

export interface TestPki {
  dir: string;
  /** The CA that signed server.pem (give it to clients as NATS_CA / REDIS_CA). */
  ca: string;
  cert: string;
  key: string;
  /** A CA that signed nothing here: a client trusting only it must refuse the server. */
  otherCa: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run("openssl", args, { cwd: dir });
}

async function selfSignedCa(dir: string, name: string): Promise<void> {
  await openssl(dir, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", `/CN=${name}`]);
}

/** A CA and a server certificate for 127.0.0.1 and localhost, in dir. */
export async function makePki(dir: string): Promise<TestPki> {
  await fs.mkdir(dir, { recursive: true });
  await selfSignedCa(dir, "wafleet-test-ca");
  await selfSignedCa(dir, "unrelated-ca");
  await openssl(dir, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
  await fs.writeFile(path.join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await openssl(dir, ["x509", "-req", "-in", "server.csr", "-CA", "wafleet-test-ca.pem", "-CAkey", "wafleet-test-ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext"]);
  return { dir, ca: path.join(dir, "wafleet-test-ca.pem"), cert: path.join(dir, "server.pem"), key: path.join(dir, "server.key"), otherCa: path.join(dir, "unrelated-ca.pem") };
}

export function nkeyUser(): { seed: string; publicKey: string } {
  const kp: KeyPair = nkeys.createUser();
  return { seed: new TextDecoder().decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}

/** What nkeys.js's key pairs (typed any by nats.js) offer us. */
interface KeyPair {
  getPublicKey(): string;
  getSeed(): Uint8Array;
  sign(data: Uint8Array): Uint8Array;
}

const b64url = (b: Uint8Array | string) => Buffer.from(b).toString("base64url");

function jwt(signer: KeyPair, sub: string, name: string, nats: Record<string, unknown>): string {
  const claims: Record<string, unknown> = { iat: Math.floor(Date.now() / 1000), iss: signer.getPublicKey(), name, sub, nats: { ...nats, version: 2 } };
  // jti: a digest of the claims without it (as nats-io/jwt writes it)
  claims.jti = createHash("sha256").update(JSON.stringify(claims)).digest("base64url").slice(0, 52).toUpperCase();
  const head = b64url(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }));
  const body = b64url(JSON.stringify(claims));
  const sig = signer.sign(new TextEncoder().encode(`${head}.${body}`));
  return `${head}.${body}.${b64url(sig)}`;
}

export interface OperatorSetup {
  /** nats-server configuration: the operator, a memory resolver preloaded with the account. */
  serverConfig: string;
  /** A creds file's text for a user of that account. */
  creds: string;
}

/** Decentralised JWT auth: an operator, one account, one user with a creds file. */
export function operatorSetup(): OperatorSetup {
  const operator: KeyPair = nkeys.createOperator();
  const account: KeyPair = nkeys.createAccount();
  const user: KeyPair = nkeys.createUser();
  const opJwt = jwt(operator, operator.getPublicKey(), "wafleet-test-operator", { type: "operator" });
  const accJwt = jwt(operator, account.getPublicKey(), "wafleet", {
    type: "account",
    limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
  });
  const userJwt = jwt(account, user.getPublicKey(), "wafleet-node", { type: "user", pub: {}, sub: {}, subs: -1, data: -1, payload: -1 });
  const seed = new TextDecoder().decode(user.getSeed());
  const creds = `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;
  const serverConfig = `operator: "${opJwt}"\nresolver: MEMORY\nresolver_preload: {\n  ${account.getPublicKey()}: "${accJwt}"\n}\n`;
  return { serverConfig, creds };
}
