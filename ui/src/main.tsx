// The operator dashboard's entry point (built by scripts/build-ui.mjs, served by the api role at /).
import { render } from "preact";
import { App } from "./app";
import "./styles.css";

render(<App />, document.getElementById("app")!);
