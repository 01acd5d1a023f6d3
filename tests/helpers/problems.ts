/**
 * An error answer as the API sends every error: the HTTP status, an application/problem+json body, the
 * stable `code`, and the same status repeated in the body.
 */
export function expectProblem(
  res: { status: number; headers: Record<string, string>; body: Record<string, unknown> },
  status: number,
  code: string,
): void {
  expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.status).toBe(status);
}
