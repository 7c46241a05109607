// Read-only views of the fake WhatsApp server for tests: its certificate chain, decoded.
import type { SimNetwork } from "../network";

 
const { proto } = require("baileys/WAProto/index.js") as { proto: any };

export function gatewayChain(network: SimNetwork): { intermediate: { details: Buffer; signature: Buffer }; leaf: { details: Buffer; signature: Buffer }; intermediateKey: Buffer } {
  const chain = proto.CertChain.decode(network.baileysGateway!.certs.chain);
  const details = proto.CertChain.NoiseCertificate.Details.decode(chain.intermediate.details);
  const b = (x: Uint8Array) => Buffer.from(x);
  return {
    intermediate: { details: b(chain.intermediate.details), signature: b(chain.intermediate.signature) },
    leaf: { details: b(chain.leaf.details), signature: b(chain.leaf.signature) },
    intermediateKey: b(details.key),
  };
}
