// A real S3 API server for backup tests: s3rver (the S3 REST protocol over HTTP, objects on disk)
// on a free loopback port, with its bucket created, stoppable and restartable on the same port
// (to play an S3 outage), and the object-created events it reports (PUT vs multipart completion).
import { promises as fs } from "node:fs";
import path from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
// s3rver ships no types
const S3rver = require("s3rver");
import { freePort, tempDir } from "./processes";

export interface S3Event {
  eventName: string;
  key: string;
  size: number;
}

export class TestS3 {
  readonly bucket = "wafleet-backups";
  readonly credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
  readonly events: S3Event[] = [];
  port = 0;
  dir = "";
  private server: any;

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (!this.dir) this.dir = await tempDir("s3");
    if (!this.port) this.port = await freePort();
    this.server = new S3rver({ port: this.port, address: "127.0.0.1", silent: true, directory: this.dir, configureBuckets: [{ name: this.bucket }] });
    this.server.on("event", (e: any) => {
      for (const r of e?.Records ?? []) this.events.push({ eventName: r.eventName, key: decodeURIComponent(r.s3.object.key), size: r.s3.object.size });
    });
    await this.server.run();
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }

  /** A client with the server's credentials (for tests that tamper with objects directly). */
  client(): S3Client {
    return new S3Client({ endpoint: this.endpoint, forcePathStyle: true, region: "us-east-1", credentials: this.credentials });
  }

  /** Lets the SDK's default credential chain (environment) find this server's keys. */
  exportCredentials(): void {
    process.env.AWS_ACCESS_KEY_ID = this.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = this.credentials.secretAccessKey;
    process.env.AWS_REGION = "us-east-1";
  }

  async destroy(): Promise<void> {
    await this.stop();
    if (this.dir) await fs.rm(path.resolve(this.dir), { recursive: true, force: true });
  }
}

export async function startTestS3(): Promise<TestS3> {
  return new TestS3().start();
}
