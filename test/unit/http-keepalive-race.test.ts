// The test suite's HTTP client (test/helpers/http.ts, which the scale harness drives everything
// through) against a server that closes an idle kept-alive connection just as the client reuses
// it: the race behind `npm run bench:scale` ending with `{"error":"write EPIPE"}` on a loaded
// machine. Deterministic here: the client's event loop is held (as a loaded machine holds it)
// while a server thread closes the idle connection (FIN, then RST), so the client still takes the
// dead socket from its agent's pool and its write fails with EPIPE.
import http from "node:http";
import { Worker } from "node:worker_threads";
import { request } from "../helpers/http";

/** A keep-alive HTTP/1.1 server in a thread of its own (it runs while the test's thread is held). */
const SERVER = `
const net = require("node:net");
const { parentPort, workerData } = require("node:worker_threads");
const flag = new Int32Array(workerData);
const idle = new Set();
let answered = 0;
const server = net.createServer((socket) => {
  let buf = "";
  socket.on("error", () => {});
  socket.on("data", (chunk) => {
    buf += chunk.toString("latin1");
    for (;;) {
      const end = buf.indexOf("\\r\\n\\r\\n");
      if (end < 0) return;
      const length = Number(/content-length: *(\\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      buf = buf.slice(end + 4 + length);
      answered++;
      const body = JSON.stringify({ answered });
      socket.write("HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: " + body.length + "\\r\\nConnection: keep-alive\\r\\n\\r\\n" + body);
      idle.add(socket);
    }
  });
  socket.on("close", () => idle.delete(socket));
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
parentPort.on("message", (m) => {
  if (m === "answered") return parentPort.postMessage({ answered });
  if (m !== "close idle") return;
  // as a server whose keep-alive timeout fired: FIN, then a reset (the client is still half-open)
  const sockets = [...idle];
  for (const s of sockets) s.end();
  setTimeout(() => {
    for (const s of sockets) s.resetAndDestroy();
    setTimeout(() => { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); }, 100);
  }, 100);
});
`;

let worker: Worker;
let base: string;
let flag: Int32Array;

beforeAll(async () => {
  flag = new Int32Array(new SharedArrayBuffer(4));
  worker = new Worker(SERVER, { eval: true, workerData: flag.buffer });
  const { port } = await new Promise<{ port: number }>((resolve) => worker.once("message", resolve));
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  http.globalAgent.destroy();
  await worker.terminate();
});

/** Has the server close its idle connections while this thread is held, as a loaded machine holds it. */
function closeIdleWhileHeld(): void {
  Atomics.store(flag, 0, 0);
  worker.postMessage("close idle");
  expect(Atomics.wait(flag, 0, 0, 10_000)).toBe("ok");
}

const answered = () => new Promise<number>((resolve) => {
  worker.once("message", (m) => resolve(m.answered));
  worker.postMessage("answered");
});

it("reproduces the race: a request on the kept-alive socket the server has just closed fails with write EPIPE", async () => {
  expect((await request(base, "POST", "/warm", { body: { n: 1 } })).status).toBe(200);
  const before = await answered();
  closeIdleWhileHeld();
  const err = await new Promise<NodeJS.ErrnoException & { reused?: boolean }>((resolve, reject) => {
    const req = http.request(`${base}/raw`, { method: "POST", headers: { "content-type": "application/json" } }, () => reject(new Error("answered on a closed socket")));
    req.on("error", (e) => resolve(Object.assign(e, { reused: req.reusedSocket })));
    req.end(JSON.stringify({ n: 2 }));
  });
  expect({ code: err.code, message: err.message, reused: err.reused }).toEqual({ code: "EPIPE", message: "write EPIPE", reused: true });
  // the server never read that request: sending it again is safe
  expect(await answered()).toBe(before);
});

it("survives it: the harness's client sends a request that met a closed kept-alive socket again, once, on a fresh one", async () => {
  expect((await request(base, "POST", "/warm", { body: { n: 3 } })).status).toBe(200);
  const before = await answered();
  closeIdleWhileHeld();
  const r = await request(base, "POST", "/again", { body: { n: 4 } });
  expect(r.status).toBe(200);
  expect(await answered()).toBe(before + 1);
});

it("survives it when every kept-alive socket in the pool is dead: the second try never takes another pooled one", async () => {
  // a burst leaves several idle sockets in the agent's pool; the server closes all of them
  const burst = await Promise.all(Array.from({ length: 6 }, (_, n) => request(base, "POST", "/warm", { body: { n } })));
  expect(burst.map((r) => r.status)).toEqual(Array(6).fill(200));
  const before = await answered();
  closeIdleWhileHeld();
  const r = await request(base, "POST", "/again", { body: { n: 7 } });
  expect(r.status).toBe(200);
  expect(await answered()).toBe(before + 1);
});
