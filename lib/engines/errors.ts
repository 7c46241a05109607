// Engine errors: an Error with a stable code from lib/errors.ts. The class lives with the simulator
// engine that introduced it; engines import it from here.
export { EngineError } from "./simulator";
