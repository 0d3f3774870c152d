// JSON requests against a test server over real HTTP: the status and the parsed body (undefined when empty).
export type JsonCall = <T>(method: string, path: string, body?: unknown) => Promise<{ status: number; body: T }>;

export function jsonClient(baseUrl: () => string): JsonCall {
  return async <T>(method: string, path: string, body?: unknown) => {
    const res = await fetch(`${baseUrl()}${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
}
