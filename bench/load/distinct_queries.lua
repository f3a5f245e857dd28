-- wrk script for bench/load_wrk.py: GET /search with DISTINCT text queries (random combinations
-- of 2-12 words from a 120-word list, so neither the text cache nor the result cache answers),
-- and the latency of the ACCEPTED (200) requests measured apart from the refused (503) ones.
--
-- wrk's own latency statistics mix every response; here each thread has one connection
-- (run wrk with -t equal to -c), so request() and response() of a thread alternate and the time
-- between them is that request's latency (CLOCK_MONOTONIC through LuaJIT's ffi). done() writes
-- the accepted latencies (ms, one per line) and the status counts to the file $WRK_OUT:
--   status <code> <count>      per HTTP status
--   error <kind> <count>       wrk's socket errors (connect, read, write, timeout)
--   ms <latency>               one line per accepted request
-- With $WRK_HONOUR_RETRY_AFTER=1 a connection that got a 503 waits the Retry-After seconds
-- (what a well-behaved client, the UI included, does) before its next request; by default it
-- sends the next one at once (the worst case: clients that ignore it).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } wrk_timespec;
int clock_gettime(int clock, wrk_timespec *out);
]]
local CLOCK_MONOTONIC = 1
local now_buffer = ffi.new("wrk_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now_buffer)
  return tonumber(now_buffer.tv_sec) * 1000 + tonumber(now_buffer.tv_nsec) / 1e6
end

local WORDS = {
  "a", "the", "person", "people", "dog", "cat", "horse", "bird", "red", "blue", "green", "yellow",
  "black", "white", "city", "street", "night", "morning", "beach", "sea", "mountain", "forest",
  "river", "lake", "snow", "rain", "sun", "cloud", "car", "bus", "train", "bicycle", "boat",
  "plane", "house", "bridge", "tower", "church", "market", "kitchen", "table", "chair", "window",
  "door", "garden", "flower", "tree", "grass", "field", "road", "child", "woman", "man", "old",
  "young", "small", "large", "bright", "dark", "running", "sitting", "walking", "playing",
  "eating", "reading", "sleeping", "with", "on", "in", "under", "near", "behind", "two", "three",
  "many", "portrait", "landscape", "photo", "painting", "drawing", "close", "up", "view", "from",
  "above", "inside", "outside", "winter", "summer", "autumn", "spring", "festival", "crowd",
  "sport", "football", "tennis", "guitar", "piano", "coffee", "bread", "fruit", "apple", "cake",
  "wine", "glass", "book", "phone", "computer", "light", "shadow", "fire", "smoke", "stone",
  "wall", "roof", "sky", "star", "moon", "desert", "island",
}

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(thread_number * 7919 + tonumber(os.getenv("WRK_SEED") or "0"))
  accepted = {}
  statuses = {}
  sent_at = 0
  backoff_ms = 0
  honour_retry_after = os.getenv("WRK_HONOUR_RETRY_AFTER") == "1"
end

function request()
  local parts = {}
  for i = 1, math.random(2, 12) do
    parts[i] = WORDS[math.random(#WORDS)]
  end
  sent_at = now_ms()
  return wrk.format("GET", "/search?top_k=10&query=" .. table.concat(parts, "+"))
end

function delay()
  -- Called before each request only when the client honours Retry-After (see done()).
  local wait = backoff_ms
  backoff_ms = 0
  return wait
end

function response(status, headers, body)
  local elapsed = now_ms() - sent_at
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 then
    accepted[#accepted + 1] = elapsed
  elseif status == 503 and honour_retry_after then
    backoff_ms = 1000 * (tonumber(headers["Retry-After"] or headers["retry-after"] or "1") or 1)
  end
end

if os.getenv("WRK_HONOUR_RETRY_AFTER") ~= "1" then
  delay = nil -- wrk calls delay() only when the script defines it
end

function done(summary, latency, requests)
  local out = assert(io.open(assert(os.getenv("WRK_OUT"), "set WRK_OUT"), "w"))
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
    for _, ms in ipairs(thread:get("accepted")) do
      out:write(string.format("ms %.3f\n", ms))
    end
  end
  for status, count in pairs(totals) do
    out:write(string.format("status %d %d\n", status, count))
  end
  for _, kind in ipairs({ "connect", "read", "write", "timeout" }) do
    out:write(string.format("error %s %d\n", kind, summary.errors[kind]))
  end
  out:close()
end
