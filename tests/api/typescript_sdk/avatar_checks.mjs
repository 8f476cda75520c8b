// Runway's TypeScript SDK (@runwayml/sdk 4.20.1), run as a new user would, against our server:
// every avatar-related method, with its results checked. Driven by tests/api/test_typescript_sdk.py.
//
// Usage: node avatar_checks.mjs CONFIG.json
//   CONFIG: {"sdk": ".../node_modules/@runwayml/sdk/index.mjs", "baseURL", "apiKey",
//            "faceImagePath", "audioWavPath"}
// Prints one JSON line: {"checks": [{"name", "ok", "error"?}], "passed", "failed"}; exits 1 if
// any check failed. Checks run in order; a check whose setup failed is reported, not skipped.

import { readFile } from 'node:fs/promises';

const config = JSON.parse(await readFile(process.argv[2], 'utf8'));
const { default: RunwayML, toFile } = await import(config.sdk);
const client = new RunwayML({ baseURL: config.baseURL, apiKey: config.apiKey, maxRetries: 0 });

const results = [];
const state = {};

async function check(name, body) {
  try {
    await body();
    results.push({ name, ok: true });
  } catch (error) {
    results.push({ name, ok: false, error: String(error && error.stack ? error.stack : error).slice(0, 800) });
  }
}

function expect(condition, message) {
  if (!condition) throw new Error(`expected: ${message}`);
}

async function until(fetch, done, { timeoutMs = 60_000, intervalMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fetch();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(value).slice(0, 300)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

async function expectStatus(promise, status, mentions) {
  try {
    await promise;
  } catch (error) {
    expect(error instanceof RunwayML.APIError, `an APIError, got ${error}`);
    expect(error.status === status, `HTTP ${status}, got ${error.status}: ${error.message}`);
    if (mentions) expect(String(error.message).includes(mentions), `"${mentions}" in ${error.message}`);
    return;
  }
  throw new Error(`expected HTTP ${status}, the call succeeded`);
}

const face = await readFile(config.faceImagePath);
const faceDataUri = `data:image/jpeg;base64,${face.toString('base64')}`;
const PRESETS = [
  'game-character', 'music-superstar', 'game-character-man', 'cat-character', 'influencer',
  'tennis-coach', 'human-resource', 'fashion-designer', 'cooking-teacher',
];

// --- uploads ---------------------------------------------------------------------------------

await check('uploads.createEphemeral returns a runway:// URI', async () => {
  const upload = await client.uploads.createEphemeral({ file: await toFile(face, 'portrait.jpg') });
  expect(upload.uri.startsWith('runway://'), `runway:// URI, got ${upload.uri}`);
  state.uploadUri = upload.uri;
});

// --- documents -------------------------------------------------------------------------------

await check('documents.create (text)', async () => {
  const doc = await client.documents.create({ name: 'Store FAQ', content: '# Hours\nOpen 9 to 5.' });
  expect(doc.type === 'text' && doc.content === '# Hours\nOpen 9 to 5.', 'text document with content');
  expect(Array.isArray(doc.usedBy) && doc.usedBy.length === 0, 'usedBy []');
  state.documentId = doc.id;
});

await check('documents.retrieve', async () => {
  const doc = await client.documents.retrieve(state.documentId);
  expect(doc.id === state.documentId && doc.name === 'Store FAQ', 'the same document');
});

await check('documents.update', async () => {
  const answer = await client.documents.update(state.documentId, { content: '# Hours\nOpen 8 to 6.' });
  expect(answer === undefined || answer === null || answer === '', 'no body (204)');
  const doc = await client.documents.retrieve(state.documentId);
  expect(doc.content === '# Hours\nOpen 8 to 6.', `updated content, got ${doc.content}`);
});

await check('documents.list (auto-pagination)', async () => {
  const seen = [];
  for await (const doc of client.documents.list({ limit: 1 })) seen.push(doc.id);
  expect(seen.includes(state.documentId), 'the document is listed');
});

await check('documents.create from a file (extension, type "file")', async () => {
  const text = Buffer.from('Returns are free within 30 days.').toString('base64');
  const doc = await client.documents.create({
    name: 'Returns', content: undefined, file: `data:text/plain;base64,${text}`,
  });
  expect(doc.type === 'file' && doc.content.includes('30 days'), `file document, got ${doc.type}`);
  await client.documents.delete(doc.id);
});

// --- avatars ---------------------------------------------------------------------------------

await check('avatars.create (data URI, preset voice, document)', async () => {
  const avatar = await client.avatars.create({
    name: 'Ada',
    referenceImage: faceDataUri,
    personality: 'You are Ada, a friendly guide.',
    voice: { type: 'runway-live-preset', presetId: 'clara' },
    documentIds: [state.documentId],
  });
  expect(avatar.status === 'PROCESSING' || avatar.status === 'READY', `status ${avatar.status}`);
  expect(avatar.voice.type === 'runway-live-preset' && avatar.voice.name === 'Clara', 'voice Clara');
  state.avatarId = avatar.id;
});

await check('avatars.retrieve until READY', async () => {
  const ready = await until(() => client.avatars.retrieve(state.avatarId), (a) => a.status !== 'PROCESSING');
  expect(ready.status === 'READY', `READY, got ${ready.status} ${ready.failureReason ?? ''}`);
  expect(ready.processedImageUri && ready.referenceImageUri, 'image URIs');
  expect(JSON.stringify(ready.documentIds) === JSON.stringify([state.documentId]), 'documentIds');
});

await check('avatars.create from an upload URI', async () => {
  const avatar = await client.avatars.create({
    name: 'Uploaded', referenceImage: state.uploadUri, personality: 'p',
    voice: { type: 'runway-live-preset', presetId: 'leo' },
  });
  const done = await until(() => client.avatars.retrieve(avatar.id), (a) => a.status !== 'PROCESSING');
  expect(done.status === 'READY', `READY, got ${done.status}`);
  await client.avatars.delete(avatar.id);
});

await check('avatars.update', async () => {
  const updated = await client.avatars.update(state.avatarId, { name: 'Ada Lovelace', startScript: 'Hello!' });
  expect(updated.name === 'Ada Lovelace' && updated.startScript === 'Hello!', 'name and startScript');
});

await check('avatars.list (auto-pagination) shows no preset rows', async () => {
  const names = [];
  for await (const avatar of client.avatars.list({ limit: 2 })) names.push(avatar.name);
  expect(names.includes('Ada Lovelace'), `Ada listed, got ${names}`);
  expect(!names.includes('Mina') && !names.includes('Mochi'), 'presets are not custom avatars');
});

await check('documents.retrieve shows usedBy', async () => {
  const doc = await client.documents.retrieve(state.documentId);
  expect(doc.usedBy.length === 1 && doc.usedBy[0].id === state.avatarId, 'used by Ada');
});

await check('avatars.getUsage', async () => {
  const today = new Date().toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const usage = await client.avatars.getUsage({ startDate: today, endDate: tomorrow });
  expect(typeof usage.totalSeconds === 'number' && Array.isArray(usage.byDay), 'usage shape');
  expect(usage.byDay.length >= 1 && usage.byDay[0].date === today, `byDay from today, got ${JSON.stringify(usage.byDay)}`);
});

// --- voices ----------------------------------------------------------------------------------

await check('voices.preview', async () => {
  const preview = await client.voices.preview({
    model: 'eleven_multilingual_ttv_v2', prompt: 'A calm, warm, low-pitched male narrator voice',
  });
  expect(preview.url.startsWith('http') && preview.durationSecs > 0.5, 'a preview URL and duration');
  const audio = await fetch(preview.url);
  expect(audio.ok, `preview downloads, got ${audio.status}`);
});

await check('voices.create, retrieve until READY, update, list, delete', async () => {
  const created = await client.voices.create({
    name: 'Narrator',
    from: { type: 'text', prompt: 'A calm, warm, low-pitched male narrator voice', model: 'eleven_ttv_v3' },
  });
  const ready = await until(() => client.voices.retrieve(created.id), (v) => v.status !== 'PROCESSING', { timeoutMs: 180_000, intervalMs: 500 });
  expect(ready.status === 'READY' && ready.previewUrl, `READY, got ${ready.status}`);
  const updated = await client.voices.update(created.id, { description: 'For audiobooks' });
  expect(updated.description === 'For audiobooks', 'description updated');
  const ids = [];
  for await (const voice of client.voices.list({ limit: 5 })) ids.push(voice.id);
  expect(ids.includes(created.id), 'listed');
  await client.voices.delete(created.id);
  await expectStatus(client.voices.retrieve(created.id), 404);
});

// --- realtime sessions and conversations ------------------------------------------------------

async function readySession(body) {
  const created = await client.realtimeSessions.create(body);
  const ready = await until(() => client.realtimeSessions.retrieve(created.id), (s) => s.status !== 'NOT_READY');
  expect(ready.status === 'READY' && ready.sessionKey, `READY with a sessionKey, got ${ready.status}`);
  return created.id;
}

await check('realtimeSessions.create/retrieve/delete with every preset', async () => {
  for (const presetId of PRESETS) {
    const id = await readySession({ model: 'gwm1_avatars', avatar: { type: 'runway-preset', presetId } });
    await client.realtimeSessions.delete(id);
    const cancelled = await client.realtimeSessions.retrieve(id);
    expect(cancelled.status === 'CANCELLED', `${presetId}: CANCELLED, got ${cancelled.status}`);
  }
});

await check('realtimeSessions with a preset and per-session overrides', async () => {
  state.presetSessionId = await readySession({
    model: 'gwm1_avatars',
    avatar: { type: 'runway-preset', presetId: 'cat-character' },
    personality: 'You are Mochi, and today you only talk about boxes.',
    startScript: 'Mrrow! Have you seen my new box?',
    maxDuration: 60,
    tools: [{ type: 'client_event', name: 'show_box', description: 'Show a box' }],
  });
});

await check('realtimeSessions with a custom avatar', async () => {
  state.customSessionId = await readySession({
    model: 'gwm1_avatars', avatar: { type: 'custom', avatarId: state.avatarId }, maxDuration: 120,
  });
});

await check('avatarConversations.list shows the preset name', async () => {
  const items = [];
  for await (const item of client.avatarConversations.list({ limit: 3 })) items.push(item);
  const preset = items.find((c) => c.id === state.presetSessionId);
  expect(preset, 'the preset conversation is listed');
  expect(preset.avatar.type === 'runway-preset' && preset.avatar.presetId === 'cat-character', 'preset avatar');
  expect(preset.avatar.name === 'Mochi' && preset.hasTools === true, `Mochi with tools, got ${JSON.stringify(preset.avatar)}`);
  const custom = items.find((c) => c.id === state.customSessionId);
  expect(custom && custom.avatar.type === 'custom' && custom.avatar.name === 'Ada Lovelace', 'custom avatar item');
});

await check('avatarConversations.retrieve', async () => {
  const conversation = await client.avatarConversations.retrieve(state.presetSessionId);
  expect(conversation.status === 'in_progress' && conversation.maxDuration === 60, 'in progress, 60 s');
  expect(conversation.avatar.type === 'runway-preset' && conversation.avatar.presetId === 'cat-character', 'preset');
  expect(conversation.tools.length === 1 && conversation.tools[0].name === 'show_box', 'tools');
  expect(Array.isArray(conversation.transcript), 'transcript');
});

await check('avatarConversations.delete (after the session ends)', async () => {
  await expectStatus(client.avatarConversations.delete(state.customSessionId), 409, 'in progress');
  await client.realtimeSessions.delete(state.customSessionId);
  await client.realtimeSessions.delete(state.presetSessionId);
  await client.avatarConversations.delete(state.customSessionId);
  await expectStatus(client.avatarConversations.retrieve(state.customSessionId), 404);
});

await check('realtimeSessions refuse an unknown preset with 400', async () => {
  await expectStatus(
    client.realtimeSessions.create({ model: 'gwm1_avatars', avatar: { type: 'runway-preset', presetId: 'dog' } }),
    400,
    'presetId',
  );
});

// --- avatar videos and tasks ------------------------------------------------------------------

await check('avatarVideos.create with a preset, waitForTaskOutput, tasks.retrieve/delete', async () => {
  const task = await client.avatarVideos
    .create({ model: 'gwm1_avatars', avatar: { type: 'runway-preset', presetId: 'influencer' }, speech: { type: 'text', text: 'Hey hey, it is Zoe!' } })
    .waitForTaskOutput({ timeout: 240_000 });
  expect(task.status === 'SUCCEEDED' && task.output.length === 1, `SUCCEEDED, got ${task.status}`);
  const video = await fetch(task.output[0]);
  const bytes = Buffer.from(await video.arrayBuffer());
  expect(video.ok && bytes.subarray(4, 8).toString() === 'ftyp', 'an MP4');
  const again = await client.tasks.retrieve(task.id);
  expect(again.status === 'SUCCEEDED', 'tasks.retrieve');
  await client.tasks.delete(task.id);
  await expectStatus(client.tasks.retrieve(task.id), 404);
});

await check('avatarVideos.create with a custom avatar and uploaded audio', async () => {
  const audio = await client.uploads.createEphemeral({ file: await toFile(await readFile(config.audioWavPath), 'speech.wav') });
  const task = await client.avatarVideos
    .create({ model: 'gwm1_avatars', avatar: { type: 'custom', avatarId: state.avatarId }, speech: { type: 'audio', audio: audio.uri } })
    .waitForTaskOutput({ timeout: 240_000 });
  expect(task.status === 'SUCCEEDED', `SUCCEEDED, got ${task.status}`);
});

// --- organization ----------------------------------------------------------------------------
await check('organization.retrieve (tier limits and usage per model)', async () => {
  const org = await client.organization.retrieve();
  expect(typeof org.creditBalance === 'number', 'creditBalance is a number');
  const avatars = org.tier.models.gwm1_avatars;
  const limit = (value) => value === null || typeof value === 'number';
  expect(avatars && limit(avatars.maxConcurrentGenerations),
    'tier.models.gwm1_avatars.maxConcurrentGenerations is a number or null');
  expect(limit(avatars.maxDailyGenerations), 'maxDailyGenerations is a number or null');
  expect(typeof org.usage.models.gwm1_avatars?.dailyGenerations === 'number',
    'usage.models.gwm1_avatars.dailyGenerations counts the sessions created above');
  expect(org.usage && typeof org.usage.models === 'object', 'usage.models is an object');
});

await check('organization.retrieveUsage (per day, per model)', async () => {
  const today = new Date();
  const start = new Date(today.getTime() - 2 * 86_400_000).toISOString().slice(0, 10);
  const before = new Date(today.getTime() + 86_400_000).toISOString().slice(0, 10);
  const usage = await client.organization.retrieveUsage({ startDate: start, beforeDate: before });
  expect(Array.isArray(usage.models), 'models is an array');
  expect(Array.isArray(usage.results) && usage.results.length > 0, 'results has days');
  for (const day of usage.results) {
    expect(typeof day.date === 'string' && Array.isArray(day.usedCredits), 'a day has usedCredits');
  }
});
// --- end organization ------------------------------------------------------------------------

// --- clean-up (also checks the deletes) --------------------------------------------------------

await check('avatars.delete and documents.delete', async () => {
  await client.avatars.delete(state.avatarId);
  await expectStatus(client.avatars.retrieve(state.avatarId), 404);
  await client.documents.delete(state.documentId);
  await expectStatus(client.documents.retrieve(state.documentId), 404);
});

const failed = results.filter((r) => !r.ok).length;
console.log(JSON.stringify({ checks: results, passed: results.length - failed, failed }));
process.exit(failed ? 1 : 0);
