// Server-side Lua of the Redis engine, loaded once per connection and called by SHA (ioredis defineCommand).
// KEYS[1] routes the call to the volume's slot; other keys share its hash tag, so they live in the same slot.

/** A directory member is `name \0 T inode`: the attribute key is the prefix plus the digits after T. */
const FIND_ENTRY = `
local function entry(k, name)
  local r = redis.call('ZRANGEBYLEX', k, '[' .. name .. '\\0', '(' .. name .. '\\1', 'LIMIT', 0, 1)
  return r[1]
end
local function inodeOf(m)
  local z = string.find(m, '\\0', 1, true)
  return string.sub(m, z + 2)
end
`;

/** Entry and attributes in one call: {member, attr}; for a missing name {'', parent attr} so a negative
 *  lookup can tell ENOENT from ENOTDIR without a second round trip. ARGV: name, attribute key prefix,
 *  parent's attribute key. */
export const LOOKUP = `${FIND_ENTRY}
local m = entry(KEYS[1], ARGV[1])
if not m then return {'', redis.call('GET', ARGV[3])} end
return {m, redis.call('GET', ARGV[2] .. inodeOf(m))}
`;

/** A page of a directory in name order; with plus, each member is followed by its attributes (or nil).
 *  ARGV: lower bound, count (-1 = all), plus ('1'/'0'), attribute key prefix. */
export const READDIR = `${FIND_ENTRY}
local r = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
if ARGV[3] ~= '1' then return r end
local out = {}
for j, m in ipairs(r) do
  out[2 * j - 1] = m
  out[2 * j] = redis.call('GET', ARGV[4] .. inodeOf(m))
end
return out
`;

/**
 * The commit of an optimistic transaction, atomically: first every read the transaction made is
 * re-executed and compared with what it returned then (any difference = a conflict: return 0 and
 * write nothing); then the buffered writes are applied in order. Returns {1, INCRBY results...}.
 *
 * ARGV: the client's done hash, the commit's id ('' for a check-only call), the number of ids to forget
 * and those ids, then nchecks, then checks, then writes; each item is `op, argc, args...`.
 * Idempotence: a commit with an id records its reply under that id in the done hash, in the same atomic
 * step as its writes; sent again (its reply was lost with the connection, or ioredis resent it after a
 * reconnect or failover) it returns that reply instead of running again. The client forgets an id (it is
 * sent in the next commit's forget list) once it has the reply, so the hash holds only commits in flight.
 * Counter increments are blind: 'clog' fills the record's holes (record.ts) with the values INCRBY
 * returned here and stores the record at the version assigned here (or given). Its ARGV: changelog key,
 * version's increment index or '', version or '', then pieces: text, increment index, text, ..., text.
 */
export const COMMIT = `${FIND_ENTRY}
local i = 1
local function item()
  local op = ARGV[i]
  local n = tonumber(ARGV[i + 1])
  local a = {}
  for j = 1, n do a[j] = ARGV[i + 1 + j] end
  i = i + 2 + n
  return op, a
end
local function same(list, a, from)
  if #list ~= #a - from + 1 then return false end
  for j = 1, #list do
    if list[j] ~= a[from + j - 1] then return false end
  end
  return true
end
local done = ARGV[1]
local txid = ARGV[2]
if txid ~= '' then
  local prev = redis.call('HGET', done, txid)
  if prev then
    local r = {}
    for n in string.gmatch(prev, '[^,]+') do r[#r + 1] = tonumber(n) end
    return r
  end
end
local nforget = tonumber(ARGV[3])
if nforget > 0 then redis.call('HDEL', done, unpack(ARGV, 4, 3 + nforget)) end
i = 4 + nforget
local nchecks = tonumber(ARGV[i])
i = i + 1
for _ = 1, nchecks do
  local op, a = item()
  local ok
  if op == 'get' then
    local v = redis.call('GET', a[1])
    if #a == 1 then ok = (v == false) else ok = (v == a[2]) end
  elseif op == 'hget' then
    local v = redis.call('HGET', a[1], a[2])
    if #a == 2 then ok = (v == false) else ok = (v == a[3]) end
  elseif op == 'ent' then
    local v = entry(a[1], a[2])
    if #a == 2 then ok = (v == nil) else ok = (v == a[3]) end
  elseif op == 'strlen' then
    ok = redis.call('STRLEN', a[1]) == tonumber(a[2])
  elseif op == 'exists' then
    ok = redis.call('EXISTS', a[1]) == tonumber(a[2])
  elseif op == 'zrange' then
    ok = same(redis.call('ZRANGE', a[1], a[2], a[3]), a, 4)
  elseif op == 'zrbs' then
    ok = same(redis.call('ZRANGEBYSCORE', a[1], a[2], '+inf'), a, 3)
  elseif op == 'zrbl' then
    ok = same(redis.call('ZRANGEBYLEX', a[1], a[2], '+', 'LIMIT', 0, tonumber(a[3])), a, 4)
  elseif op == 'hall' then
    ok = redis.call('HLEN', a[1]) == (#a - 1) / 2
    local j = 2
    while ok and j < #a do
      ok = redis.call('HGET', a[1], a[j]) == a[j + 1]
      j = j + 2
    end
  elseif op == 'hkeys' then
    ok = redis.call('HLEN', a[1]) == #a - 1
    local j = 2
    while ok and j <= #a do
      ok = redis.call('HEXISTS', a[1], a[j]) == 1
      j = j + 1
    end
  elseif op == 'smem' then
    ok = redis.call('SCARD', a[1]) == #a - 1
    local j = 2
    while ok and j <= #a do
      ok = redis.call('SISMEMBER', a[1], a[j]) == 1
      j = j + 1
    end
  else
    return redis.error_reply('unknown check ' .. tostring(op))
  end
  if not ok then return 0 end
end
local res = {1}
while i <= #ARGV do
  local op, a = item()
  if op == 'set' then redis.call('SET', a[1], a[2])
  elseif op == 'del' then redis.call('DEL', a[1])
  elseif op == 'append' then redis.call('APPEND', a[1], a[2])
  elseif op == 'incr' then res[#res + 1] = redis.call('INCRBY', a[1], a[2])
  elseif op == 'hset' then redis.call('HSET', a[1], a[2], a[3])
  elseif op == 'hdel' then redis.call('HDEL', a[1], a[2])
  elseif op == 'zadd' then redis.call('ZADD', a[1], a[2], a[3])
  elseif op == 'zaddnx' then redis.call('ZADD', a[1], 'NX', a[2], a[3])
  elseif op == 'zaddxx' then redis.call('ZADD', a[1], 'XX', a[2], a[3])
  elseif op == 'zrem' then redis.call('ZREM', a[1], a[2])
  elseif op == 'sadd' then redis.call('SADD', a[1], a[2])
  elseif op == 'srem' then redis.call('SREM', a[1], a[2])
  elseif op == 'ent' or op == 'unent' then
    local old = entry(a[1], a[2])
    if old then redis.call('ZREM', a[1], old) end
    if op == 'ent' then redis.call('ZADD', a[1], 0, a[3]) end
  elseif op == 'clog' then
    local v
    if a[2] ~= '' then v = res[tonumber(a[2]) + 2] else v = tonumber(a[3]) end
    local p = {string.format('%d', v), ' '}
    for s = 4, #a do
      if s % 2 == 0 then p[#p + 1] = a[s] else p[#p + 1] = string.format('%d', res[tonumber(a[s]) + 2]) end
    end
    redis.call('ZADD', a[1], v, table.concat(p))
  else
    return redis.error_reply('unknown write ' .. tostring(op))
  end
end
if txid ~= '' then
  local p = {}
  for j = 1, #res do p[j] = string.format('%d', res[j]) end
  redis.call('HSET', done, txid, table.concat(p, ','))
  redis.call('PEXPIRE', done, 3600000)
end
return res
`;
