-- Ask the compliance gateway before bridging: <action application="lua"
-- data="gateway_check.lua [callee]"/> (see gateway.xml). Sets gw_decision (allow | deny |
-- error), gw_attempt_id, gw_reasons, gw_next_allowed_at, gw_error and gw_hangup_cause
-- (CALL_REJECTED = Q.850 21 on deny, NORMAL_TEMPORARY_FAILURE = 41 on error). Fails closed:
-- anything but a 200 decision is "error". The dialplan bridges only on "allow".
-- NOT TESTED against a running FreeSWITCH; see README.md.

local script_dir = freeswitch.getGlobalVariable("script_dir") or "/usr/share/freeswitch/scripts"
local ok, gw = pcall(dofile, script_dir .. "/gateway_common.lua")

local function var(name)
  local v = session:getVariable(name)
  if v == nil or v == "" or v == "_undef_" then
    return nil
  end
  return v
end

local function publish(decision, attempt_id, reasons, next_allowed_at, err)
  local causes = { allow = "", deny = "CALL_REJECTED" }
  session:setVariable("gw_attempt_id", attempt_id or "")
  session:setVariable("gw_reasons", reasons or "")
  session:setVariable("gw_next_allowed_at", next_allowed_at or "")
  session:setVariable("gw_error", err or "")
  session:setVariable("gw_hangup_cause", causes[decision] or "NORMAL_TEMPORARY_FAILURE")
  session:setVariable("gw_decision", decision)  -- last: the dialplan reads this one
end

local function check()
  if not ok then
    return publish("error", nil, nil, nil, "config")
  end
  local cfg = gw.cfg
  local callee = (argv and argv[1]) or var("gw_callee") or var("destination_number")
  local campaign = var("gw_campaign") or cfg.campaign
  if not callee then
    return publish("error", nil, nil, nil, "no_callee")
  end
  if not campaign or campaign == "" then
    return publish("error", nil, nil, nil, "config_missing_campaign")
  end
  local body = gw.json({
    { "campaign", campaign },
    { "callee", callee },
    { "caller_id", var("gw_caller_id") or var("effective_caller_id_number")
                   or var("caller_id_number") },
    { "agent_id", var("gw_agent") },
    { "contract_ref", var("gw_contract_ref") },
    { "external_id", cfg.external_id_prefix .. session:getVariable("uuid") },
  })
  local status, payload = gw.post("/v1/calls/check", body, cfg.timeout_s)
  if status == nil then
    return publish("error", nil, nil, nil, "unreachable_or_timeout")
  end
  if status ~= 200 then
    local code = payload:match('"error"%s*:%s*"([%w_]+)"')
    return publish("error", nil, nil, nil, "http_" .. status .. (code and ("_" .. code) or ""))
  end
  local decision = payload:match('"decision"%s*:%s*"(%a+)"')
  local attempt_id = payload:match('"attempt_id"%s*:%s*"([^"]+)"')
  local codes = {}
  for code in payload:gmatch('"code"%s*:%s*"([%w_]+)"') do
    codes[#codes + 1] = code
  end
  if (decision ~= "allow" and decision ~= "deny") or not attempt_id
      or (decision == "deny" and #codes == 0) then
    return publish("error", nil, nil, nil, "bad_answer")
  end
  local next_allowed_at = payload:match('"next_allowed_at"%s*:%s*"([^"]+)"')
  gw.log(decision == "allow" and "info" or "notice",
         string.format("check %s campaign %s: %s %s %s", callee, campaign, decision,
                       table.concat(codes, ","), attempt_id))
  return publish(decision, attempt_id, table.concat(codes, ","), next_allowed_at, nil)
end

local done, failure = pcall(check)
if not done then  -- a bug must never look like anything but "do not dial"
  freeswitch.consoleLog("err", "gateway: check failed: " .. tostring(failure) .. "\n")
  pcall(publish, "error", nil, nil, nil, "internal")
end
