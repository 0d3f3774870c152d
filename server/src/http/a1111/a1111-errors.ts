// Errors under /sdapi take A1111's shape, `{ error, detail, body, errors }`, and its status codes: validation
// problems are 422 (FastAPI's code, which A1111 clients check for), an unknown sampler is 400 and a missing init
// image 404, as A1111's own handlers answer. The codes in `error` are Easel's, so logs and docs stay one vocabulary.
import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, describeValidation } from '../errors.js';

export const invalid = (message: string, field?: string): AppError => new AppError(422, 'EASEL_ERR_INVALID', message, field);

/** Easel's field names as the A1111 request spells them, for messages about a mapped request. */
const A1111_FIELDS: Record<string, string> = {
  negativePrompt: 'negative_prompt',
  model: 'override_settings.sd_model_checkpoint',
  sampler: 'sampler_name',
  cfgScale: 'cfg_scale',
  count: 'batch_size × n_iter',
  initImage: 'init_images',
  strength: 'denoising_strength',
  outputFormat: 'samples_format',
  quality: 'jpeg_quality',
};

export const a1111Field = (field: string): string => A1111_FIELDS[field] ?? field;

// Errors A1111 answers with something other than 422.
const KEEP_STATUS = new Set(['EASEL_ERR_UNKNOWN_SAMPLER']);

function send(reply: { status(code: number): { send(body: unknown): unknown } }, status: number, code: string, message: string) {
  return reply.status(status).send({ error: code, detail: message, body: '', errors: message });
}

export function registerA1111ErrorHandler(scope: FastifyInstance): void {
  // Some clients POST /interrupt or /refresh-checkpoints with a JSON content type and no body; A1111 accepts that.
  const parseJson = scope.getDefaultJsonParser('error', 'error');
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string; // parseAs: 'string'
    if (text.trim() === '') return done(null, undefined);
    return parseJson(request, text, done);
  });

  scope.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      const status = error.statusCode === 400 && !KEEP_STATUS.has(error.code) ? 422 : error.statusCode;
      const message = error.field && !error.message.includes(a1111Field(error.field)) ? `${a1111Field(error.field)}: ${error.message}` : error.message;
      return send(reply, status, error.code, message);
    }
    if (error.validation) {
      const { message } = describeValidation(error.validation, error.validationContext ?? 'body');
      return send(reply, 422, 'EASEL_ERR_INVALID', message);
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return send(reply, 413, 'EASEL_ERR_BODY_TOO_LARGE', `the request body is larger than the ${request.server.initialConfig.bodyLimit} bytes allowed`);
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      // Malformed JSON and the like: FastAPI answers these with 422 too.
      const status = error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 415 : 422;
      return send(reply, status, 'EASEL_ERR_BAD_BODY', `the request body could not be read: ${error.message}`);
    }
    request.log.error({ err: error }, 'A1111 API request failed');
    return send(reply, 500, 'EASEL_ERR_INTERNAL', 'Easel hit an internal error; the server log has the details');
  });

  scope.setNotFoundHandler((request, reply) =>
    send(reply, 404, 'EASEL_ERR_NOT_FOUND', `Not Found: Easel does not implement ${request.method} ${request.url.split('?')[0]} (see docs/A1111-API.md)`),
  );
}
