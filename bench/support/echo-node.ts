// A minimal Moleculer node for the routing benchmark: one `bench` service over NATS whose `rr`
// action is balanced round-robin and whose `ws` action uses the Workspace strategy.
import { ServiceBroker } from "moleculer";
import { registerWorkspaceStrategy } from "../../lib/placement/routing";

registerWorkspaceStrategy();
const broker = new ServiceBroker({
  namespace: "bench",
  nodeID: process.env.NODE_ID,
  transporter: { type: "NATS", options: { url: process.env.TRANSPORTER } },
  logger: false,
  registry: { preferLocal: false },
});
broker.createService({
  name: "bench",
  actions: {
    rr: { handler: (ctx: any) => ({ node: broker.nodeID, w: ctx.params.workspaceId }) },
    ws: { strategy: "Workspace", handler: (ctx: any) => ({ node: broker.nodeID, w: ctx.params.workspaceId }) },
  },
});
broker.start().then(() => process.stdout.write(`echo node ${broker.nodeID} up\n`));
process.on("SIGTERM", () => void broker.stop().then(() => process.exit(0)));
