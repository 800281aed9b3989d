// `@fastify/http-proxy` target of the proxy benchmark: reply-from on undici (128 connections per
// origin by default), round robin over the back ends through `replyOptions.getUpstream`.
//   node fastify-http-proxy.mjs <peersDir> <listenHost:port> <backend,backend> <backendPort>
import { createRequire } from "node:module";
import { join } from "node:path";

const [peers, listen, backends, backendPort] = process.argv.slice(2);
const require = createRequire(join(peers, "package.json"));
const fastify = require("fastify")({ logger: false, keepAliveTimeout: 60_000 });

const targets = backends.split(",").map((h) => `http://${h}:${backendPort}`);
let next = 0;
fastify.register(require("@fastify/http-proxy"), {
  upstream: "",
  replyOptions: {
    getUpstream: () => {
      const t = targets[next];
      next = (next + 1) % targets.length;
      return t;
    },
  },
});
const [host, port] = listen.split(":");
fastify.listen({ host, port: Number(port) }).then(
  () => process.stdout.write("ready\n"),
  (err) => {
    process.stderr.write(`${err}\n`);
    process.exit(1);
  },
);
const stop = () => fastify.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
