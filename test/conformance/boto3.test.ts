/** The conformance table through boto3, one long-lived python3 process for the whole file. */
import { boto3Client } from "./support/clients.js";
import { runConformance } from "./support/runner.js";

runConformance("boto3", (url) => boto3Client(url));
