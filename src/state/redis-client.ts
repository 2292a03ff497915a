// One way to open a Redis connection for the engine's Redis users (the user
// store, the catalog stream): a server or a Cluster from one URL, TLS for
// rediss://, commands failing at once while disconnected (callers degrade or
// answer UNAVAILABLE instead of queueing), reconnection with backoff. No
// per-command timeout: node-redis makes an AbortSignal per command for it,
// ~15% of a cached read's cost; callers bound a call with within() (util/within.ts).
import { createClient, createCluster } from 'redis';

export interface RedisClientOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// (TLS); with `cluster`, any node of the Cluster. */
  url: string;
  cluster?: boolean;
  resp: 2 | 3;
  /** Entries of the RESP3 client-side cache (kept correct by Redis's invalidations); 0 or absent: none. */
  cacheEntries?: number;
}

/** The URL's user and password (every Cluster node takes them; the nodes' addresses come from the Cluster). */
function credentials(url: string): { username?: string; password?: string } {
  const u = new URL(url);
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
}

/** A client not yet connected, with an error listener (errors surface on the commands; unheard they would crash the process). */
export function redisClient(o: RedisClientOptions): ReturnType<typeof createClient> | ReturnType<typeof createCluster> {
  const cache = o.cacheEntries ? { clientSideCache: { maxEntries: o.cacheEntries, evictPolicy: 'LRU' as const } } : {};
  const node = {
    disableOfflineQueue: true,
    socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000), ...(o.url.startsWith('rediss:') ? { tls: true as const } : {}) },
  };
  const client = o.cluster
    ? createCluster({ rootNodes: [{ url: o.url }], RESP: o.resp, ...cache, defaults: { ...credentials(o.url), ...node } })
    : createClient({ url: o.url, RESP: o.resp, ...cache, ...node });
  client.on('error', () => undefined);
  return client;
}
