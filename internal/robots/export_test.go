package robots

// ShardOf is appid's shard key under prefix, for tests that fill one.
func ShardOf(prefix, appid string) string { return shardKey(prefix, appid) }
