/** `/health` (no key needed) and the OpenAI-style model list `/v1/models`. */
import type { FastifyPluginAsync } from 'fastify';
import { rateLimited, requireKey } from './access';
import { BROWSER_BUNDLE, clip, type ServerContext } from './context';
import { ApiError } from './errors';
import { browserBundleServed } from './files';
import type { QueueStats } from './queue';

export const infoPlugin: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const modelObject = () => ({ id: ctx.modelId, object: 'model', created: ctx.startedAt, owned_by: 'glm-asr-webgpu' });
  const v1 = { config: rateLimited(ctx), preParsing: requireKey(ctx) };

  app.get('/health', async (_request, reply) => {
    // With --queue: the shared queue's depth and the live workers; 503 while Redis is unreachable.
    const workers = ctx.remoteQueue ? await ctx.remoteQueue.health() : undefined;
    if (workers?.status === 'unavailable') reply.code(503);
    return {
      status: workers?.status ?? 'ok',
      model: ctx.modelId,
      queue: ctx.queue.stats satisfies QueueStats,
      ...(workers && { jobQueue: workers }),
      limits: {
        maxUploadBytes: ctx.maxUploadBytes,
        maxAudioSeconds: ctx.maxAudioSeconds,
        maxBeams: ctx.maxBeams,
        authRequired: ctx.apiKey !== undefined,
      },
      // For the page's in-browser mode (relative URLs; null when not offered).
      browser: {
        engine: browserBundleServed(ctx) ? BROWSER_BUNDLE : null,
        modelUrl: ctx.modelSlug ? `models/${ctx.modelSlug}/` : null,
      },
    };
  });

  app.get('/v1/models', v1, async () => ({
    object: 'list',
    data: [modelObject()],
  }));

  // A wildcard: a repo id ('owner/name') has a slash in it.
  app.get<{ Params: { '*': string } }>('/v1/models/*', v1, async (request) => {
    const model = request.params['*'];
    if (model !== ctx.modelId) {
      const message = `The model '${clip(model, 100)}' does not exist.`;
      throw new ApiError(404, message, 'invalid_request_error', 'model_not_found', 'model');
    }
    return modelObject();
  });
};
