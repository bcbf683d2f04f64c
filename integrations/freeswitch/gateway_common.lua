-- Shared by gateway_check.lua and gateway_outcome.lua: settings, JSON, the HTTP call.
-- NOT TESTED against a running FreeSWITCH (none can be installed where this was written);
-- the Asterisk AGI next door is the tested integration. See README.md.

local M = {}

local script_dir = freeswitch.getGlobalVariable("script_dir") or "/usr/share/freeswitch/scripts"
M.cfg = dofile(script_dir .. "/gateway_config.lua")

function M.log(level, message)
  -- the key never reaches the log
  message = message:gsub(M.cfg.dialer_key:gsub("%p", "%%%0"), "***")
  freeswitch.consoleLog(level, "gateway: " .. message .. "\n")
end

local function json_string(value)
  if value == nil or value == "" then
    return "null"
  end
  local escaped = tostring(value):gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. escaped .. '"'
end

-- {"k": v, ...} from an ordered list of {key, value, kind} (kind "number" writes it bare)
function M.json(fields)
  local parts = {}
  for _, f in ipairs(fields) do
    local value
    if f[3] == "number" then
      value = tostring(tonumber(f[2]) or 0)
    elseif f[3] == "null_number" then
      value = f[2] and tostring(f[2]) or "null"
    else
      value = json_string(f[2])
    end
    parts[#parts + 1] = json_string(f[1]) .. ":" .. value
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- POST through mod_curl's "curl" API. Its arguments are split on blanks, at most 10 of them:
-- the JSON goes URL-encoded (mod_curl decodes it) as the last one, the Authorization header
-- single-quoted. Returns the HTTP status (nil when there was no HTTP answer) and the body.
function M.post(path, body, timeout_s)
  local args = table.concat({
    M.cfg.url .. path, "headers", "content-type", "application/json",
    "timeout", tostring(math.max(1, math.floor(timeout_s))),
    "append_headers", "'Authorization: Bearer " .. M.cfg.dialer_key .. "'",
    "post", urlencode(body),
  }, " ")
  local out = freeswitch.API():execute("curl", args) or ""
  if out:sub(1, 4) == "-ERR" then
    return nil, ""
  end
  local status
  for code in out:gmatch("HTTP/[%d%.]+ (%d%d%d)") do
    status = tonumber(code)  -- the last status line (after any 100 Continue)
  end
  local payload = out:match("\n(%{.*)$") or ""
  return status, payload
end

return M
