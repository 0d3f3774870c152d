// The token counter behind the prompt box ("23/75"): the model's own tokenizer and A1111's chunking rules.
import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { badRequest } from './errors.js';
import { ErrorBody, TokenizeRequest, TokenizeResult } from './schemas.js';
import type { ModelRegistry } from '../models/model-registry.js';
import { chunkedTokenLimit, promptToChunks } from '../pipeline/prompt/chunks.js';
import { parsePromptAttention, isBreakSegment } from '../pipeline/prompt/attention.js';
import { ClipTokenizer } from '../pipeline/tokenizer/clip-tokenizer.js';

export function registerTokenizeRoutes(app: FastifyInstance, deps: { registry: ModelRegistry }): void {
  // Tokenizer files are ~1.5 MB of JSON; read each model's once.
  const cache = new Map<string, Promise<ClipTokenizer>>();
  const tokenizerFor = (dir: string): Promise<ClipTokenizer> => {
    let entry = cache.get(dir);
    if (!entry) {
      entry = ClipTokenizer.fromDirectory(join(dir, 'tokenizer'));
      entry.catch(() => cache.delete(dir));
      cache.set(dir, entry);
    }
    return entry;
  };

  app.post<{ Body: TokenizeRequest }>(
    '/api/tokenize',
    { schema: { body: TokenizeRequest, response: { 200: TokenizeResult, 400: ErrorBody } } },
    async (request) => {
      const models = (await deps.registry.list()).filter((m) => m.ready);
      const model = request.body.model === undefined ? models[0] : models.find((m) => m.id === request.body.model);
      if (!model) {
        throw badRequest('EASEL_ERR_MODEL_NOT_FOUND', request.body.model === undefined ? 'no model is installed' : `model "${request.body.model}" is not installed`, 'model');
      }
      const tokenizer = await tokenizerFor(model.dir);
      const { chunks, tokenCount } = promptToChunks(tokenizer, request.body.text);
      const ids = parsePromptAttention(request.body.text)
        .filter((s) => !isBreakSegment(s))
        .flatMap((s) => tokenizer.encode(s.text));
      return { ids, count: tokenCount, chunks: chunks.length, limit: chunkedTokenLimit(tokenCount) };
    },
  );
}
