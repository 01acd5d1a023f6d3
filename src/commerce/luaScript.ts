import { createHash } from 'node:crypto';
import type { RedisClient } from '../infra/redis';

/**
 * A Redis Lua script sent by its SHA1 (EVALSHA), so a hot path does not send the script's text with every call;
 * a server that does not know it yet (restarted, flushed) answers NOSCRIPT, and the text goes once (EVAL).
 */
export class LuaScript {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: RedisClient, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}
