// A developer's backend written with Runway's own helper, unchanged: it calls connect_backend
// on our server, joins the session's LiveKit room and answers `show_order`. It prints one JSON
// line per event for the test: {"event":"connected"}, {"event":"call","args":{...}},
// {"event":"disconnected"}.
import { createRpcHandler } from "@runwayml/avatars-node-rpc";

const [baseUrl, apiKey, sessionId] = process.argv.slice(2);
const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

const handler = await createRpcHandler({
  apiKey,
  sessionId,
  baseUrl,
  tools: {
    show_order: async (args) => {
      say({ event: "call", tool: "show_order", args });
      return { status: "shipped", arrives: "Friday" };
    },
  },
  onConnected: () => say({ event: "connected" }),
  onDisconnected: () => {
    say({ event: "disconnected" });
    process.exit(0);
  },
  onError: (error) => say({ event: "error", message: String(error) }),
});
process.on("SIGTERM", async () => {
  await handler.close();
  process.exit(0);
});
