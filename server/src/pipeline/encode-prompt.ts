// Prompt text → text-encoder hidden states [1, 77·k, D].
import type { SdModel } from './sd-model.js';
import type { FloatTensor } from './tensor.js';

export async function encodePrompt(model: SdModel, text: string): Promise<FloatTensor> {
  const { ids } = model.tokenizer.tokenize(text);
  const outputs = await model.textEncoder.run({ input_ids: { kind: 'int', dims: [1, ids.length], data: Int32Array.from(ids) } });
  const hidden = outputs.last_hidden_state ?? Object.values(outputs)[0];
  if (!hidden) throw new Error(`${model.textEncoder.path} returned no output`);
  return hidden;
}
