// The HTTP methods the Graph routes answer (the others are Fastify's 404): the routes are
// registered for them, the access log and metrics label by them, and --simulate names them.
export const GRAPH_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export const GRAPH_METHOD_SET: ReadonlySet<string> = new Set(GRAPH_METHODS);
