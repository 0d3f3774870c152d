// /png-info (an image's generation parameters, read by images/metadata-parse.ts) and the extras routes.
import type { FastifyInstance } from 'fastify';
import { parseInfotext, readImageText } from '../../images/metadata-parse.js';
import { decodeImage } from './a1111-images.js';
import { ExtrasBatchBody, ExtrasSingleBody, ImageBody } from './a1111-schemas.js';
import { runExtras } from './extras.js';

// A1111's parser fills these when an infotext leaves them out, and clients that paste settings read them.
const PARSE_DEFAULTS: Record<string, string> = { 'Clip skip': '1', RNG: 'GPU', 'Schedule type': 'Automatic' };

/** A1111's parsed dict: Prompt, Negative prompt, then the `Key: value` pairs as strings (sizes as Key-1, Key-2). */
function a1111Parameters(infotext: string): Record<string, string> {
  const { prompt, negativePrompt, params } = parseInfotext(infotext);
  return { ...PARSE_DEFAULTS, Prompt: prompt, 'Negative prompt': negativePrompt, ...params };
}

export function registerPngInfoRoutes(scope: FastifyInstance): void {
  scope.post<{ Body: ImageBody }>('/png-info', { schema: { body: ImageBody } }, async (request) => {
    // PNG text chunks, or EXIF UserComment for JPEG and WebP, as A1111 reads them.
    const { parameters: info = '', ...items } = readImageText(decodeImage(request.body.image, 'image').bytes);
    return { info, items, parameters: info ? a1111Parameters(info) : {} };
  });

  scope.post<{ Body: ExtrasSingleBody }>('/extra-single-image', { schema: { body: ExtrasSingleBody } }, async (request) =>
    runExtras(request.body.image, request.body, 'image'),
  );

  scope.post<{ Body: ExtrasBatchBody }>('/extra-batch-images', { schema: { body: ExtrasBatchBody } }, async (request) => {
    const images: string[] = [];
    let html = '';
    for (const [i, item] of request.body.imageList.entries()) {
      const result = await runExtras(item.data, request.body, `imageList.${i}.data`);
      images.push(result.image);
      html = result.html_info;
    }
    return { images, html_info: html };
  });
}
