import { countSharded, lowestScoreSharded } from '@books/core/redis';
import { AdminStatsSchema, ErrorResponseSchema } from '@books/core/schemas';
import { readLiveWorkers } from '@books/core/worker';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { countAllBooks } from '../../services/books-store.js';
import { countUsers } from '../../services/users-store.js';
import { workerKindStatus } from '../../services/worker-status.js';
import adminBulkRoutes from './bulk.js';

const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('preParsing', app.requireAdmin);
  await app.register(adminBulkRoutes);

  app.get(
    '/stats',
    {
      schema: {
        tags: ['admin'],
        summary: 'System statistics (administrators only: the emails in ADMIN_EMAILS)',
        security: [{ bearerAuth: [] }],
        response: { 200: AdminStatsSchema, 401: ErrorResponseSchema, 403: ErrorResponseSchema, 503: ErrorResponseSchema },
      },
    },
    async () => {
      const { redis, keys, config } = app;
      const now = Date.now();
      // Failed requests stay counted while their records do. Only counted: the scripts that add to
      // the index trim it (a read never writes).
      const failedSince = `(${now - config.bulk.recordTtlSeconds * 1000}`;
      const [userCount, bookCount, pending, reports, failed, oldestQueuedAt, workers] = await Promise.all([
        countUsers(app.db),
        countAllBooks(app.db),
        countSharded(redis, keys.bulkPendingShards()),
        countSharded(redis, keys.reportPendingShards()),
        countSharded(redis, keys.bulkFailedShards(), failedSince),
        lowestScoreSharded(redis, keys.bulkPendingShards()),
        readLiveWorkers(redis, keys, new Date(now)),
      ]);
      return {
        success: true as const,
        data: {
          totalUsers: userCount,
          totalBooks: bookCount,
          pendingBulkJobs: pending,
          pendingReports: reports,
          failedRequests: failed,
          oldestPendingAgeSeconds: oldestQueuedAt === null ? null : Math.max(0, Math.round((now - oldestQueuedAt) / 1000)),
          workers: {
            'bulk-worker': workerKindStatus(workers, 'bulk-worker', config.bulk.cron, new Date(now)),
            'report-worker': workerKindStatus(workers, 'report-worker', config.report.cron, new Date(now)),
          },
        },
      };
    },
  );
};

export default adminRoutes;
