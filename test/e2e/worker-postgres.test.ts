/** The worker suite on BullMQ's PostgreSQL backend (no REDIS_URL): the zero-install default. */
import { workerSuite } from './worker-suite.js';

workerSuite('postgres', { withRunCommand: true });
