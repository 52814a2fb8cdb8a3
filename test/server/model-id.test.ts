/**
 * No server paths in public answers (issue 13 §5, issue 14 §9): `/health` (no key needed), `/v1/models`
 * and the log's "listening" line name the model by its repo id or its folder's name. The web page's
 * status pill shows `/health`'s `model` (web/app.js), so it follows.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { publicModelId } from '../../src/server/context';
import { FakeTranscriber } from './fake-transcriber';
import { startTestServer } from './helpers';

const tmp = mkdtempSync(join(tmpdir(), 'glm-model-id-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('publicModelId', () => {
  it('keeps repo ids and names; reduces paths to the folder name or the hub repo', () => {
    expect(publicModelId('zai-org/GLM-ASR-Nano-2512')).toBe('zai-org/GLM-ASR-Nano-2512');
    expect(publicModelId('glm-asr-nano-2512')).toBe('glm-asr-nano-2512');
    expect(publicModelId('/srv/private/models/GLM-ASR-Nano-2512')).toBe('GLM-ASR-Nano-2512');
    expect(publicModelId('/srv/private/models/GLM-ASR-Nano-2512/')).toBe('GLM-ASR-Nano-2512');
    expect(publicModelId('./models/demo')).toBe('demo');
    expect(publicModelId('~/models/tiny')).toBe('tiny');
    expect(publicModelId('C:\\Users\\me\\models\\tiny')).toBe('tiny');
    const snapshot = '/home/me/.cache/huggingface/hub/models--zai-org--GLM-ASR-Nano-2512/snapshots/0123abcd';
    expect(publicModelId(snapshot)).toBe('zai-org/GLM-ASR-Nano-2512');
    // a relative folder that exists (the tests run in the repository) is a path, not a repo id
    expect(publicModelId('models/demo')).toBe('demo');
    expect(publicModelId('no-such-owner/no-such-model')).toBe('no-such-owner/no-such-model');
  });
});

describe('answers never show the model folder path', () => {
  it('/health, /v1/models and /v1/models/<id> use the folder name', async () => {
    const dir = join(tmp, 'secret-place', 'GLM-ASR-Nano-2512');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), '{}');
    const srv = await startTestServer({ transcriber: new FakeTranscriber({ modelId: dir }) });
    try {
      const healthText = await (await fetch(`${srv.base}/health`)).text();
      expect(healthText).not.toContain(tmp);
      expect(healthText).not.toContain('secret-place');
      const health = JSON.parse(healthText) as { model: string; browser: { modelUrl: string } };
      expect(health.model).toBe('GLM-ASR-Nano-2512');
      expect(health.browser.modelUrl).toBe('models/GLM-ASR-Nano-2512/');
      const modelsText = await (await fetch(`${srv.base}/v1/models`)).text();
      expect(modelsText).not.toContain(tmp);
      const models = JSON.parse(modelsText) as { data: { id: string }[] };
      expect(models.data.map((m) => m.id)).toEqual(['GLM-ASR-Nano-2512']);
      expect((await fetch(`${srv.base}/v1/models/GLM-ASR-Nano-2512`)).status).toBe(200);
      expect((await fetch(`${srv.base}/v1/models/${encodeURIComponent(dir)}`)).status).toBe(404);
    } finally {
      await srv.close();
    }
  });

  it('a hub snapshot is named by its repo id, which /v1/models/<owner>/<name> finds', async () => {
    const srv = await startTestServer({
      transcriber: new FakeTranscriber({
        modelId: join(tmp, 'hub', 'models--zai-org--GLM-ASR-Nano-2512', 'snapshots', 'f00d'),
      }),
    });
    try {
      const health = (await (await fetch(`${srv.base}/health`)).json()) as { model: string };
      expect(health.model).toBe('zai-org/GLM-ASR-Nano-2512');
      const m = (await (await fetch(`${srv.base}/v1/models/zai-org/GLM-ASR-Nano-2512`)).json()) as { id: string };
      expect(m.id).toBe('zai-org/GLM-ASR-Nano-2512');
    } finally {
      await srv.close();
    }
  });
});
