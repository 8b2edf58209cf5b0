-- wrk script for `npm run bench` (bench/lib/load.ts writes the plan and parses the result).
--
-- Arguments after `--`: plan file, thread count, credential header name,
-- content type, substring every 200 body must contain ("-" for none).
-- Plan lines: <kind>\t<credential header value>\t<body>, kind "r" expects a
-- 200 (with the substring), kind "x" (an invalid API key) expects a 401, or a
-- 429 once the per-address limit on failed keys trips. Each thread takes every
-- n-th line, builds its requests once, and cycles through them; the request id
-- (kind + line number) comes back in X-Request-Id, which tells response() what
-- to expect. done() prints one line: BENCH-RESULT {json}.

local threads = {}
local created = 0

function setup(thread)
  thread:set("tid", created)
  created = created + 1
  table.insert(threads, thread)
end

local reqs = {}
local n, i = 0, 0
local expect_body = nil
ok, bad, bodybad, s401, s429, wraps, statuses = 0, 0, 0, 0, 0, 0, ""
local other = {}

function init(args)
  local plan, nthreads, header, ctype = args[1], tonumber(args[2]), args[3], args[4]
  if args[5] ~= "-" then expect_body = args[5] end
  local line_no = 0
  for line in io.lines(plan) do
    if line_no % nthreads == tid then
      local kind, value, body = line:match("^(%a)\t([^\t]*)\t(.*)$")
      local headers = { ["Content-Type"] = ctype, ["X-Request-Id"] = kind .. line_no }
      if value ~= "" then headers[header] = value end
      n = n + 1
      reqs[n] = wrk.format("POST", nil, headers, body)
    end
    line_no = line_no + 1
  end
end

function request()
  i = i + 1
  if i > n then
    i = 1
    wraps = wraps + 1
  end
  return reqs[i]
end

function response(status, headers, body)
  local id = headers["X-Request-Id"] or headers["x-request-id"]
  if id ~= nil and id:sub(1, 1) == "x" then
    if status == 401 then
      s401 = s401 + 1
      return
    elseif status == 429 then
      s429 = s429 + 1
      return
    end
  elseif status == 200 then
    if expect_body == nil or body:find(expect_body, 1, true) then
      ok = ok + 1
    else
      bodybad = bodybad + 1
    end
    return
  end
  bad = bad + 1
  other[status] = (other[status] or 0) + 1
  local parts = {}
  for k, v in pairs(other) do table.insert(parts, k .. ":" .. v) end
  statuses = table.concat(parts, ",")
end

function done(summary, latency, requests)
  local t = { ok = 0, bad = 0, bodybad = 0, s401 = 0, s429 = 0, wraps = 0 }
  local st = {}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
    local s = thread:get("statuses")
    if s ~= "" then table.insert(st, s) end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"ok":%d,"bad":%d,"bodyMismatch":%d,"s401":%d,"s429":%d,"wraps":%d,"otherStatuses":"%s","connectErrors":%d,"readErrors":%d,"writeErrors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), t.ok, t.bad, t.bodybad, t.s401,
    t.s429, t.wraps, table.concat(st, ";"), e.connect, e.read, e.write, e.timeout))
end
