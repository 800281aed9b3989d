/** Flags shared by the commands that call the control plane's signed API. */

/** Where the API is, which region to sign for, and where the bootstrap credentials are. */
export const CLIENT_FLAGS = {
  endpoint: {
    type: "string",
    default: "http://127.0.0.1:9700",
    arg: "URL",
    help: "the control plane's API",
  },
  region: {
    type: "string",
    default: "us-east-1",
    arg: "REGION",
    help: "the region requests are signed for (and act in)",
  },
  "data-dir": {
    type: "string",
    default: "./data",
    arg: "DIR",
    help: "read the key from DIR/bootstrap-credentials unless AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set",
  },
} as const;

export const JSON_FLAG = {
  json: { type: "boolean", default: false, help: "print the API's JSON answer instead of a table" },
} as const;

/** The names of CLIENT_FLAGS and JSON_FLAG, for a spec's `common`. */
export const CLIENT = ["endpoint", "region", "data-dir"] as const;
export const CLIENT_JSON = [...CLIENT, "json"] as const;
