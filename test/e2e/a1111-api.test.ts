// The AUTOMATIC1111 API against the real server and the tiny model, driven the way its clients drive it: the
// bodies below are written from SillyTavern's, Open WebUI's, the webuiapi Python client's and the Photoshop
// plugin's documented calls (../shared/reference/interop.md §1.7), and the answers are checked field by field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { JobList, JobView } from '../../server/src/http/schemas.js';
import { readPngText } from '../../server/src/images/png-text.js';
import { startTestServer, type TestServer } from '../helpers/easel-server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const PNG_SIGNATURE = '89504e470d0a1a0a';

async function call(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const init: RequestInit = { method, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${server.url}/sdapi/v1${path}`, init);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}
const get = (path: string) => call('GET', path);
const post = (path: string, body?: unknown, headers?: Record<string, string>) => call('POST', path, body, headers);

interface Info {
  seed: number;
  all_seeds: number[];
  infotexts: string[];
  sampler_name: string;
  [key: string]: unknown;
}

/** The A1111 answer to a generate call, decoded: the PNGs, their text chunks, and `info` parsed. */
async function generated(res: { status: number; json: any }): Promise<{ pngs: Buffer[]; texts: Record<string, string>[]; info: Info; parameters: Record<string, unknown> }> {
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.deepEqual(Object.keys(res.json).sort(), ['images', 'info', 'parameters']);
  assert.equal(typeof res.json.info, 'string', 'info is a JSON string, as A1111 sends it');
  const pngs = (res.json.images as string[]).map((b64) => {
    assert.doesNotMatch(b64, /^data:/, 'images are bare base64');
    return Buffer.from(b64, 'base64');
  });
  const texts = pngs.map((png) => (png.toString('hex', 0, 8) === PNG_SIGNATURE ? readPngText(png) : {}));
  return { pngs, texts, info: JSON.parse(res.json.info) as Info, parameters: res.json.parameters };
}

async function solidPng(width: number, height: number, square?: { size: number; colour: string; background: string }): Promise<Buffer> {
  const background = square?.background ?? '#3070b0';
  const base = sharp({ create: { width, height, channels: 3, background } });
  if (!square) return base.png().toBuffer();
  const inner = await sharp({ create: { width: square.size, height: square.size, channels: 3, background: square.colour } }).png().toBuffer();
  return base.composite([{ input: inner, gravity: 'centre' }]).png().toBuffer();
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('the calls clients make at start-up answer as A1111 does', async () => {
  const options = await get('/options');
  assert.equal(options.status, 200);
  assert.equal(options.json.sd_model_checkpoint, server.modelId);
  assert.equal(options.json.samples_format, 'png');
  assert.equal(options.json.CLIP_stop_at_last_layers, 1);
  assert.equal('forge_preset' in options.json, false, 'SillyTavern must not take Easel for Forge');

  const models = await get('/sd-models');
  assert.deepEqual(Object.keys(models.json[0]).sort(), ['config', 'filename', 'hash', 'model_name', 'sha256', 'title']);
  assert.equal(models.json[0].title, server.modelId);
  assert.equal(models.json[0].model_name, server.modelId);
  assert.equal(models.json[0].hash, null);
  assert.match(models.json[0].filename, /tiny-test$/);

  const samplers = (await get('/samplers')).json as { name: string; aliases: string[]; options: Record<string, string> }[];
  const names = samplers.map((s) => s.name);
  for (const name of ['Euler', 'Euler a', 'DDIM', 'DPM++ 2M', 'DPM++ 2M Karras', 'UniPC', 'LCM']) assert.ok(names.includes(name), name);
  assert.ok(samplers.find((s) => s.name === 'Euler a')?.aliases.includes('k_euler_a'));
  assert.deepEqual(samplers.find((s) => s.name === 'DPM++ 2M Karras')?.options, { scheduler: 'karras' });

  const schedulers = (await get('/schedulers')).json as { name: string; label: string }[];
  assert.deepEqual(schedulers.map((s) => s.label), ['Automatic', 'Karras']);
  const upscalers = (await get('/upscalers')).json as { name: string; scale: number }[];
  assert.deepEqual(upscalers.map((u) => u.name), ['None', 'Lanczos', 'Nearest']);
  assert.deepEqual(Object.keys(upscalers[0]!).sort(), ['model_name', 'model_path', 'model_url', 'name', 'scale']);

  for (const path of ['/latent-upscale-modes', '/sd-vae', '/loras', '/hypernetworks', '/face-restorers', '/prompt-styles']) {
    assert.deepEqual((await get(path)).json, [], path);
  }
  assert.deepEqual((await get('/scripts')).json, { txt2img: [], img2img: [] }, 'webuiapi reads this when it is constructed');
  assert.deepEqual((await get('/embeddings')).json, { loaded: {}, skipped: {} });
  const memory = (await get('/memory')).json;
  assert.ok(memory.ram.total > 0 && memory.ram.used > 0);
  const flags = (await get('/cmd-flags')).json;
  assert.equal(flags.api, true);
  assert.equal(flags.api_auth, null, 'credentials are never echoed');

  // webuiapi posts with no body; SillyTavern-style calls send a JSON content type with none.
  assert.equal((await post('/refresh-checkpoints')).status, 200);
  assert.equal((await post('/refresh-checkpoints', '', { 'content-type': 'application/json' })).status, 200);

  const idle = await get('/progress');
  assert.deepEqual(idle.json, {
    progress: 0,
    eta_relative: 0,
    state: { skipped: false, interrupted: false, stopping_generation: false, job: '', job_count: 0, job_timestamp: '0', job_no: 0, sampling_step: 0, sampling_steps: 0 },
    current_image: null,
    textinfo: null,
    current_task: null,
  });
});

test("SillyTavern's txt2img: a PNG whose own metadata matches the info seeds and infotext, in Easel's queue and gallery", async () => {
  const body = {
    prompt: 'a red fox in the snow',
    negative_prompt: 'blurry',
    sampler_name: 'Euler a',
    scheduler: 'Automatic',
    steps: 4,
    cfg_scale: 6,
    width: 64,
    height: 96,
    restore_faces: false,
    enable_hr: false,
    hr_upscaler: 'Latent',
    hr_scale: 2,
    hr_additional_modules: [],
    denoising_strength: 0.7,
    hr_second_pass_steps: 0,
    seed: 4242,
    override_settings: { CLIP_stop_at_last_layers: 1 },
    override_settings_restore_afterwards: true,
    clip_skip: 1,
    save_images: true,
    send_images: true,
    do_not_save_grid: false,
    do_not_save_samples: false,
  };
  const { pngs, texts, info, parameters } = await generated(await post('/txt2img', body));
  assert.equal(pngs.length, 1);
  const meta = await sharp(pngs[0]!).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 64, 96]);

  assert.equal(info.seed, 4242);
  assert.deepEqual(info.all_seeds, [4242]);
  assert.equal(info.infotexts.length, 1);
  assert.equal(info.infotexts[0], texts[0]!.parameters, "info's infotext is the PNG's own parameters chunk");
  assert.match(texts[0]!.parameters!, /^a red fox in the snow\nNegative prompt: blurry\nSteps: 4, Sampler: Euler a, CFG scale: 6, Seed: 4242, Size: 64x96, Model: tiny-test/);
  assert.equal(info.prompt, 'a red fox in the snow');
  assert.deepEqual(info.all_prompts, ['a red fox in the snow']);
  assert.equal(info.negative_prompt, 'blurry');
  assert.equal(info.sampler_name, 'Euler a');
  assert.equal(info.cfg_scale, 6);
  assert.equal(info.steps, 4);
  assert.equal(info.width, 64);
  assert.equal(info.height, 96);
  assert.equal(info.sd_model_name, 'tiny-test');
  assert.equal(info.index_of_first_image, 0);
  assert.match(info.job_timestamp as string, /^\d{14}$/);
  assert.equal((JSON.parse(texts[0]!.easel!) as { seed: number }).seed, 4242);

  assert.equal(parameters.prompt, body.prompt, 'parameters echo the request');
  assert.equal(parameters.steps, 4);
  assert.equal(parameters.sampler_index, 'Euler', "A1111's default fills what the client left out");
  assert.equal('hr_additional_modules' in parameters, false, 'unknown fields are accepted, not echoed');

  const jobs = (await (await fetch(`${server.url}/api/jobs`)).json()) as JobList;
  const job = jobs.recent.find((j) => j.request.prompt === body.prompt);
  assert.ok(job, "the job is in Easel's queue history");
  assert.equal(job.state, 'done');
  assert.equal(job.request.sampler, 'euler_a');
  const gallery = (await (await fetch(`${server.url}/api/gallery?q=fox`)).json()) as { images: { jobId: string; seed: number }[] };
  assert.ok(gallery.images.some((i) => i.jobId === job.id && i.seed === 4242), 'and in the gallery');
});

test('Open WebUI: posts the whole options dict back with a model, then a batch of two with A1111 defaults', async () => {
  const options = (await get('/options')).json as Record<string, unknown>;
  const models = (await get('/sd-models')).json as { title: string }[];
  const set = await post('/options', { ...options, sd_model_checkpoint: models[0]!.title });
  assert.equal(set.status, 200);
  assert.equal(set.json, null);
  assert.equal((await get('/options')).json.sd_model_checkpoint, 'tiny-test');

  const { pngs, texts, info } = await generated(await post('/txt2img', { prompt: 'a lighthouse', batch_size: 2, width: 64, height: 64, negative_prompt: 'fog' }));
  assert.equal(pngs.length, 2);
  assert.equal(info.steps, 50, "A1111's API default is 50 steps");
  assert.equal(info.cfg_scale, 7);
  assert.equal(info.sampler_name, 'Euler');
  assert.equal(info.all_seeds[1], (info.seed + 1) % 2 ** 32, 'image i uses seed + i');
  assert.deepEqual(
    texts.map((t) => /Seed: (\d+)/.exec(t.parameters ?? '')?.[1]),
    info.all_seeds.map(String),
  );
  assert.deepEqual(info.infotexts, texts.map((t) => t.parameters));
});

test('webuiapi: sampler_name and sampler_index both sent, "DPM++ 2M" with scheduler "Karras", a model by A1111 title, n_iter', async () => {
  const body = {
    enable_hr: false, denoising_strength: 0.7, firstphase_width: 0, firstphase_height: 0, hr_scale: 2, hr_upscaler: 'Latent',
    hr_second_pass_steps: 0, hr_resize_x: 0, hr_resize_y: 0, prompt: 'a castle', styles: [], seed: 1234, subseed: -1,
    subseed_strength: 0, seed_resize_from_h: 0, seed_resize_from_w: 0, sampler_name: 'DPM++ 2M', scheduler: 'Karras',
    batch_size: 1, n_iter: 2, steps: 3, cfg_scale: 7, width: 70, height: 64, restore_faces: false, tiling: false,
    do_not_save_samples: false, do_not_save_grid: false, negative_prompt: '', eta: 1, s_churn: 0, s_tmax: 0, s_tmin: 0,
    s_noise: 1, override_settings: { sd_model_checkpoint: 'tiny-test.safetensors [a1b2c3d4e5]', CLIP_stop_at_last_layers: 2 },
    override_settings_restore_afterwards: true, script_args: [], script_name: null, send_images: true, save_images: false,
    alwayson_scripts: {}, sampler_index: 'DPM++ 2M',
  };
  const { pngs, texts, info } = await generated(await post('/txt2img', body));
  assert.equal(pngs.length, 2, 'n_iter × batch_size images');
  assert.equal(info.sampler_name, 'DPM++ 2M Karras');
  assert.deepEqual(info.all_seeds, [1234, 1235]);
  assert.equal(info.width, 64, 'a width that is no multiple of 8 is rounded down, as A1111 does');
  assert.equal(info.sd_model_name, 'tiny-test');
  assert.match(texts[1]!.parameters!, /Sampler: DPM\+\+ 2M Karras, CFG scale: 7, Seed: 1235, Size: 64x64/);

  const quiet = await post('/txt2img', { ...body, n_iter: 1, send_images: false });
  assert.equal(quiet.status, 200);
  assert.deepEqual(quiet.json.images, [], 'send_images: false sends none');
  assert.equal((JSON.parse(quiet.json.info) as Info).infotexts.length, 1);
});

test('samples_format jpg gives a JPEG whose EXIF infotext /png-info reads back', async () => {
  const res = await post('/txt2img', { prompt: 'a jpeg, please', steps: 2, width: 64, height: 64, seed: 7, override_settings: { samples_format: 'jpg' } });
  const { pngs: [jpeg], info } = await generated(res);
  assert.equal((await sharp(jpeg!).metadata()).format, 'jpeg');
  const read = await post('/png-info', { image: jpeg!.toString('base64') });
  assert.equal(read.json.info, info.infotexts[0]);
  assert.equal(read.json.parameters.Seed, '7');
});

test('progress shows the running job with a preview; interrupt stops it and the partial image comes back', async () => {
  const pending = post('/txt2img', { prompt: 'a long one', steps: 150, width: 64, height: 64, seed: 5 });
  const running = await waitFor('a progress with a preview', async () => {
    const p = (await get('/progress')).json;
    return p.state.sampling_step >= 2 && p.current_image ? p : undefined;
  });
  assert.equal(running.state.job, 'scripts_txt2img');
  assert.equal(running.state.job_count, 1);
  assert.equal(running.state.job_no, 0);
  assert.equal(running.state.sampling_steps, 150);
  assert.ok(running.progress > 0.01 && running.progress < 1, `progress ${running.progress}`);
  assert.ok(running.eta_relative >= 0);
  assert.equal((await sharp(Buffer.from(running.current_image, 'base64')).metadata()).format, 'jpeg');
  assert.equal((await get('/progress?skip_current_image=true')).json.current_image, null);

  const queue = (await (await fetch(`${server.url}/api/jobs`)).json()) as JobList;
  assert.equal(queue.queue[0]?.id, running.current_task, "the job runs in Easel's own queue");

  // SillyTavern's interrupt: a JSON content type and no body.
  const stop = await post('/interrupt', '', { 'content-type': 'application/json' });
  assert.equal(stop.status, 200);
  assert.deepEqual(stop.json, {});
  const { pngs, info } = await generated(await pending);
  assert.equal(pngs.length, 1, 'the partial image is returned');
  assert.equal(info.infotexts.length, 1);
  const job = (await (await fetch(`${server.url}/api/jobs/${running.current_task}`)).json()) as JobView;
  assert.equal(job.state, 'cancelled');
  assert.equal(job.images[0]?.partial, true);
  assert.ok((job.progress?.step ?? 150) < 150, 'it stopped early');
  assert.equal((await get('/progress')).json.state.job_count, 0, 'then Easel is idle again');
});

test('skip ends the image in progress as a partial one; a job of several goes on with the next', async () => {
  const pending = post('/txt2img', { prompt: 'skip me', steps: 150, width: 64, height: 64, seed: 6 });
  await waitFor('the job to run', async () => ((await get('/progress')).json.state.sampling_step >= 1 ? true : undefined));
  const skip = await post('/skip');
  assert.equal(skip.status, 200);
  assert.equal(skip.json, null);
  const { pngs } = await generated(await pending);
  assert.equal(pngs.length, 1);
  let jobs = (await (await fetch(`${server.url}/api/jobs`)).json()) as JobList;
  const job = jobs.recent.find((j) => j.request.prompt === 'skip me');
  assert.equal(job?.state, 'done', 'skip is not a cancel');
  assert.equal(job.images[0]?.partial, true, 'the image in progress comes back as it was');

  // Three images, one at a time (CPU batch size 1): skipping the first leaves the other two to finish.
  const three = post('/txt2img', { prompt: 'skip one of three', steps: 150, width: 64, height: 64, seed: 10, batch_size: 3 });
  await waitFor('the first image to run', async () => ((await get('/progress')).json.state.sampling_step >= 1 ? true : undefined));
  await post('/skip');
  await waitFor('the next image to start, which clears state.skipped', async () => {
    const { state } = (await get('/progress')).json;
    return state.job_count > 0 && state.skipped === false ? true : undefined;
  });
  const result = await generated(await three);
  assert.equal(result.pngs.length, 3, 'all three images come back');
  jobs = (await (await fetch(`${server.url}/api/jobs`)).json()) as JobList;
  const multi = jobs.recent.find((j) => j.request.prompt === 'skip one of three');
  assert.equal(multi?.state, 'done');
  assert.deepEqual(
    multi.images.map((i) => [i.seed, i.partial === true]),
    [[10, true], [11, false], [12, false]],
    'only the skipped image is partial',
  );
});

test("the Photoshop plugin's inpainting: bare base64 init image and mask; webuiapi's data URLs and an inverted mask", async () => {
  const init = await solidPng(64, 64, { size: 24, colour: '#e0c040', background: '#3070b0' });
  const mask = await solidPng(64, 64, { size: 32, colour: '#ffffff', background: '#000000' });
  const body = {
    prompt: 'a sunflower',
    negative_prompt: '',
    init_images: [init.toString('base64')],
    mask: mask.toString('base64'),
    inpainting_fill: 1,
    inpaint_full_res: false,
    inpaint_full_res_padding: 32,
    mask_blur: 4,
    denoising_strength: 0.5,
    sampler_index: 'Euler',
    steps: 4,
    cfg_scale: 7,
    width: 64,
    height: 64,
    seed: 99,
    batch_size: 1,
    n_iter: 1,
  };
  const { pngs, texts, info, parameters } = await generated(await post('/img2img', body));
  assert.equal(pngs.length, 1);
  const meta = await sharp(pngs[0]!).metadata();
  assert.deepEqual([meta.width, meta.height], [64, 64]);
  assert.equal(info.denoising_strength, 0.5);
  assert.equal(info.infotexts[0], texts[0]!.parameters);
  assert.match(texts[0]!.parameters!, /Denoising strength: 0\.5/);
  assert.equal(parameters.init_images, null, 'init images are not echoed unless include_init_images');
  assert.equal(parameters.mask, null);
  assert.equal(parameters.inpainting_fill, 1);

  const jobs = (await (await fetch(`${server.url}/api/jobs`)).json()) as JobList;
  const job = jobs.recent.find((j) => j.request.prompt === 'a sunflower');
  assert.ok(job?.request.initImage && job.request.mask, 'the init image and mask reach the job');
  assert.equal(job.request.strength, 0.5);

  // webuiapi sends data URLs (and labels everything PNG); inpainting_mask_invert repaints the other area.
  const inverted = await generated(
    await post('/img2img', { ...body, prompt: 'an inverted mask', init_images: [`data:image/png;base64,${init.toString('base64')}`], mask: `data:image/png;base64,${mask.toString('base64')}`, inpainting_mask_invert: 1, include_init_images: true }),
  );
  assert.equal(inverted.pngs.length, 1);
  assert.match(String(inverted.parameters.init_images?.toString()), /^data:image\/png;base64,/, 'include_init_images echoes them');
  const after = (await (await fetch(`${server.url}/api/jobs`)).json()) as JobList;
  const invertedJob = after.recent.find((j) => j.request.prompt === 'an inverted mask');
  const maskPixels = await sharp(Buffer.from(await (await fetch(`${server.url}/api/images/${invertedJob!.request.mask}`)).arrayBuffer())).greyscale().raw().toBuffer();
  assert.equal(maskPixels[0], 255, 'the corner, kept by the given mask, is repainted');
  assert.equal(maskPixels[32 * 64 + 32], 0, 'the centre is kept');
});

test('/png-info reads an image made here back into infotext and A1111-parsed parameters', async () => {
  const { pngs, info } = await generated(await post('/txt2img', { prompt: 'a "quoted", prompt', negative_prompt: 'dust', steps: 2, width: 64, height: 72, seed: 31 }));
  const res = await post('/png-info', { image: `data:image/png;base64,${pngs[0]!.toString('base64')}` });
  assert.equal(res.status, 200);
  assert.equal(res.json.info, info.infotexts[0]);
  assert.ok(typeof res.json.items.easel === 'string', 'other text chunks come back as items');
  const p = res.json.parameters as Record<string, string>;
  assert.equal(p.Prompt, 'a "quoted", prompt');
  assert.equal(p['Negative prompt'], 'dust');
  assert.equal(p.Steps, '2');
  assert.equal(p.Sampler, 'Euler');
  assert.equal(p.Seed, '31');
  assert.equal(p['Size-1'], '64');
  assert.equal(p['Size-2'], '72');
  assert.equal(p.RNG, 'CPU');
  assert.equal(p['Clip skip'], '1', "A1111's default for a key the infotext leaves out");
});

test('/extra-single-image: "None" returns the picture unchanged, Lanczos resizes, a model upscaler is refused plainly', async () => {
  const picture = await solidPng(40, 24, { size: 8, colour: '#ff0000', background: '#00ff00' });
  const webuiapiBody = {
    resize_mode: 0, show_extras_results: true, gfpgan_visibility: 0, codeformer_visibility: 0, codeformer_weight: 0,
    upscaling_resize: 2, upscaling_resize_w: 512, upscaling_resize_h: 512, upscaling_crop: true, upscaler_1: 'None',
    upscaler_2: 'None', extras_upscaler_2_visibility: 0, upscale_first: false, image: `data:image/png;base64,${picture.toString('base64')}`,
  };
  const same = await post('/extra-single-image', webuiapiBody);
  assert.equal(same.status, 200);
  assert.deepEqual(Object.keys(same.json).sort(), ['html_info', 'image']);
  const back = Buffer.from(same.json.image, 'base64');
  assert.deepEqual(await sharp(back).raw().toBuffer(), await sharp(picture).raw().toBuffer());

  const bigger = await post('/extra-single-image', { ...webuiapiBody, upscaler_1: 'Lanczos' });
  const meta = await sharp(Buffer.from(bigger.json.image, 'base64')).metadata();
  assert.deepEqual([meta.width, meta.height], [80, 48]);
  assert.match(bigger.json.html_info, /Postprocess upscaler: Lanczos/);

  const batch = await post('/extra-batch-images', { ...webuiapiBody, image: undefined, imageList: [{ data: picture.toString('base64'), name: 'a.png' }] });
  assert.equal(batch.json.images.length, 1);

  const refused = await post('/extra-single-image', { ...webuiapiBody, upscaler_1: 'R-ESRGAN 4x+' });
  assert.equal(refused.status, 422);
  assert.match(refused.json.detail, /upscaler "R-ESRGAN 4x\+" is not available; Easel has None, Lanczos, Nearest/);
});

test("errors come in A1111's shape and status: 422 for validation, 400 for an unknown sampler, 404 for a missing init image", async () => {
  const shape = (res: { json: Record<string, unknown> }) => assert.deepEqual(Object.keys(res.json).sort(), ['body', 'detail', 'error', 'errors']);

  const steps = await post('/txt2img', { prompt: 'x', steps: 500 });
  assert.equal(steps.status, 422);
  shape(steps);
  assert.match(steps.json.detail, /^steps: /);

  const batch = await post('/txt2img', { prompt: 'x', batch_size: 8, n_iter: 4 });
  assert.equal(batch.status, 422);
  assert.match(batch.json.detail, /batch_size × n_iter/);

  const type = await post('/txt2img', { prompt: 'x', steps: 'many' });
  assert.equal(type.status, 422);
  assert.match(type.json.detail, /steps/);

  const empty = await post('/txt2img', { prompt: '' });
  assert.equal(empty.status, 422);
  assert.match(empty.json.detail, /prompt/);

  const sampler = await post('/txt2img', { prompt: 'x', sampler_name: 'DPM++ SDE Karras' });
  assert.equal(sampler.status, 400);
  assert.equal(sampler.json.error, 'EASEL_ERR_UNKNOWN_SAMPLER');

  const model = await post('/txt2img', { prompt: 'x', override_settings: { sd_model_checkpoint: 'sdxl-base.safetensors [0123456789]' } });
  assert.equal(model.status, 422);
  assert.match(model.json.detail, /override_settings\.sd_model_checkpoint.*not installed; installed: tiny-test/);

  const controlnet = await post('/txt2img', { prompt: 'x', alwayson_scripts: { ControlNet: { args: [{ enabled: true }] } } });
  assert.equal(controlnet.status, 422, 'a script Easel does not have is refused, as A1111 refuses one it lacks');
  assert.match(controlnet.json.detail, /Script 'ControlNet' not found/);

  const noInit = await post('/img2img', { prompt: 'x' });
  assert.equal(noInit.status, 404);
  assert.match(noInit.json.detail, /Init image not found/);

  const badImage = await post('/img2img', { prompt: 'x', init_images: ['bm90IGFuIGltYWdl'] });
  assert.equal(badImage.status, 422);
  assert.match(badImage.json.detail, /init_images/);

  const url = await post('/img2img', { prompt: 'x', init_images: ['http://192.168.1.1/secret.png'] });
  assert.equal(url.status, 422, 'Easel does not fetch URLs a request names');

  const json = await post('/txt2img', '{"prompt": ', { 'content-type': 'application/json' });
  assert.equal(json.status, 422);
  shape(json);

  const option = await post('/options', { sd_model_checkpoint: 'nope' });
  assert.equal(option.status, 422);
  assert.equal((await post('/options', { samples_format: 'gif' })).status, 422);
  assert.equal((await get('/options')).json.sd_model_checkpoint, 'tiny-test', 'a refused change changes nothing');

  const missing = await post('/interrogate', { image: 'x', model: 'clip' });
  assert.equal(missing.status, 404);
  shape(missing);
});

// Last: a failed sign-in counts against this client's attempts.
test("LAN sharing's guard covers /sdapi: wrong HTTP Basic credentials get A1111's 401 with a Basic challenge", async () => {
  const res = await post('/txt2img', { prompt: 'x' }, { authorization: `Basic ${Buffer.from('sillytavern:wrong').toString('base64')}` });
  assert.equal(res.status, 401);
  assert.deepEqual(Object.keys(res.json).sort(), ['body', 'detail', 'error', 'errors']);
  const challenge = await fetch(`${server.url}/sdapi/v1/options`, { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
  assert.match(challenge.headers.get('www-authenticate') ?? '', /^Basic /);
});
