// `http-proxy` target of the proxy benchmark: node:http server, round robin over the back ends,
// a keep-alive Agent (without one http-proxy sends `Connection: close` upstream; see PERF-NOTES).
//   node http-proxy.mjs <peersDir> <listenHost:port> <backend,backend> <backendPort>
import { Agent, createServer } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";

const [peers, listen, backends, backendPort] = process.argv.slice(2);
const require = createRequire(join(peers, "package.json"));
const httpProxy = require("http-proxy");

const targets = backends.split(",").map((h) => `http://${h}:${backendPort}`);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ agent, xfwd: true });
proxy.on("error", (_err, _req, res) => {
  if (typeof res.writeHead === "function" && !res.headersSent) res.writeHead(502);
  res.end();
});
let next = 0;
const server = createServer((req, res) => {
  const target = targets[next];
  next = (next + 1) % targets.length;
  proxy.web(req, res, { target });
});
server.keepAliveTimeout = 60_000;
const [host, port] = listen.split(":");
server.listen(Number(port), host, () => process.stdout.write("ready\n"));
const stop = () => {
  setTimeout(() => process.exit(0), 1000).unref();
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
