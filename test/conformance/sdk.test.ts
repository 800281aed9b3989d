/** The conformance table through @aws-sdk/client-elastic-load-balancing. */
import { sdkClient } from "./support/clients.js";
import { runConformance } from "./support/runner.js";

runConformance("sdk", (url) => sdkClient(url));
