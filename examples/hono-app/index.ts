// A Hono app written for Cloudflare Workers, deployed to Lively unchanged:
//   lively deploy examples/hono-app --name shop
import { Hono } from "hono";

const app = new Hono();
const started = new URL("https://example.com/started").pathname; // top-level code runs once per load

app.get("/shop", (c) => c.text("welcome to the shop"));
app.get("/shop/items/:id", (c) => c.json({ id: c.req.param("id"), tag: c.req.header("x-tag") ?? null, started }));
app.post("/shop/echo", async (c) => c.json(await c.req.json()));

export default app;
