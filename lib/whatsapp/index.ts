// WhatsApp's vocabulary, shared by the engines, the API and the simulated network: ids, phone
// numbers, ack levels and message types. The product's types are defined here, not by the oracle.
export * from "./acks";
export * from "./ids";
export * from "./message-types";
