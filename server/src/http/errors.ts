// One error type for everything a user can cause: a stable code, a sentence they can act on, and the field.
import type { FastifyError, FastifyInstance } from 'fastify';

export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (code: string, message: string, field?: string): AppError =>
  new AppError(400, code, message, field);

export const notFound = (code: string, message: string): AppError => new AppError(404, code, message);

interface ValidationItem {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Turns Ajv's first complaint into the field it is about and a sentence naming what is allowed. */
export function describeValidation(items: readonly ValidationItem[], context: string): { field: string; message: string } {
  const item = items[0] ?? {};
  const path = (item.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
  const params = item.params ?? {};
  if (item.keyword === 'additionalProperties') {
    const extra = String(params.additionalProperty ?? '');
    const field = path ? `${path}.${extra}` : extra;
    return { field, message: `${field} is not a known field` };
  }
  if (item.keyword === 'required') {
    const missing = String(params.missingProperty ?? '');
    const field = path ? `${path}.${missing}` : missing;
    return { field, message: `${field} is required` };
  }
  const field = path || context;
  // A union of literals (TypeBox's anyOf of consts) fails once per choice: name them all.
  const choices = items.filter((i) => i.keyword === 'const' && i.instancePath === item.instancePath).map((i) => String(i.params?.allowedValue));
  if (choices.length > 1) return { field, message: `${field} must be one of ${choices.join(', ')}` };
  const rule: Record<string, string> = {
    minimum: `must be at least ${String(params.limit)}`,
    exclusiveMinimum: `must be more than ${String(params.limit)}`,
    maximum: `must be at most ${String(params.limit)}`,
    multipleOf: `must be a multiple of ${String(params.multipleOf)}`,
    minLength: params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters`,
    maxLength: `must be at most ${String(params.limit)} characters`,
    type: `must be of type ${String(params.type)}`,
  };
  const what = rule[item.keyword ?? ''] ?? item.message ?? 'is not valid';
  return { field, message: `${field} ${what}` };
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      return reply
        .status(error.statusCode)
        .send({ error: { code: error.code, message: error.message, field: error.field } });
    }
    if (error.validation) {
      const { field, message } = describeValidation(error.validation, error.validationContext ?? 'body');
      return reply.status(400).send({ error: { code: 'EASEL_ERR_INVALID', message, field } });
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(400).send({
        error: { code: 'EASEL_ERR_BODY_TOO_LARGE', message: `the request body is larger than the ${request.server.initialConfig.bodyLimit} bytes allowed`, field: 'body' },
      });
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      // Fastify's own client errors: malformed JSON, wrong content type, empty body.
      const code = error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'EASEL_ERR_CONTENT_TYPE' : 'EASEL_ERR_BAD_BODY';
      const message =
        error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
          ? 'the request body is empty: send a JSON object'
          : error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY'
            ? `the request body is not valid JSON: ${error.message}`
            : error.message;
      return reply.status(400).send({ error: { code, message, field: 'body' } });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send({ error: { code: 'EASEL_ERR_INTERNAL', message: 'Easel hit an internal error; the server log has the details' } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'EASEL_ERR_NOT_FOUND', message: `no route ${request.method} ${request.url}` } }),
  );
}
