/** The conformance table through the `aws elb` CLI: success rows, and the error rows marked `cli`. */
import { cliClient } from "./support/clients.js";
import { runConformance } from "./support/runner.js";

runConformance("cli", (url) => cliClient(url));
