// Prompt text → text-encoder hidden states, the A1111 way: emphasis markup parsed, 75-token chunks encoded one
// by one, each chunk's weights applied, and the chunks joined along the sequence axis ([1, 77·k, D]). A prompt
// and its negative are padded to the same number of chunks so the guidance batch lines up.
import { padChunks, promptToChunks, type PromptChunks } from './prompt/chunks.js';
import { applyEmphasis } from './prompt/emphasis.js';
import type { SdModel } from './sd-model.js';
import { floatTensor, type FloatTensor } from './tensor.js';

export async function encodePromptPair(model: SdModel, prompt: string, negative: string): Promise<[FloatTensor, FloatTensor]> {
  const [a, b] = padChunks(model.tokenizer, promptToChunks(model.tokenizer, prompt), promptToChunks(model.tokenizer, negative));
  return [await encodeChunks(model, a), await encodeChunks(model, b)];
}

export async function encodePrompt(model: SdModel, prompt: string): Promise<FloatTensor> {
  return encodeChunks(model, promptToChunks(model.tokenizer, prompt));
}

async function encodeChunks(model: SdModel, prompt: PromptChunks): Promise<FloatTensor> {
  const parts: Float32Array[] = [];
  let width = 0;
  let length = 0;
  for (const chunk of prompt.chunks) {
    const outputs = await model.textEncoder.run({
      input_ids: { kind: 'int', dims: [1, chunk.ids.length], data: Int32Array.from(chunk.ids) },
    });
    const hidden = outputs.last_hidden_state ?? Object.values(outputs)[0];
    if (!hidden) throw new Error(`${model.textEncoder.path} returned no output`);
    const [, seq, dim] = hidden.dims as [number, number, number];
    parts.push(applyEmphasis(hidden.data, [1, seq, dim], chunk.weights));
    width = dim;
    length += seq;
  }
  const data = new Float32Array(length * width);
  let offset = 0;
  for (const part of parts) {
    data.set(part, offset);
    offset += part.length;
  }
  return floatTensor([1, length, width], data);
}
