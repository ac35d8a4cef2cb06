// The example module `npm start` deploys. It follows the Cloudflare Workers module syntax:
// a default export with fetch(), plus named exports callable with `lively call`.
export default {
  async fetch(request: Request, env: { version?: string }): Promise<Response> {
    const url = new URL(request.url);
    return Response.json({ hello: url.searchParams.get("name") ?? "world", version: env.version });
  },
};

export function sum(a: number, b: number): number {
  return a + b;
}
