-- Report the outcome when the channel hangs up: gateway.xml sets
--   session_in_hangup_hook=true   (the hook gets the hung-up session and its variables)
--   api_hangup_hook=lua gateway_outcome.lua
-- Reads gw_attempt_id, gw_decision, DIALSTATUS, originate_disposition,
-- last_bridge_proto_specific_hangup_cause (sip:NNN), billsec; posts
-- /v1/calls/{attempt_id}/outcome, retrying connection errors and 502/503/504/429.
-- NOT TESTED against a running FreeSWITCH; see README.md.

local script_dir = freeswitch.getGlobalVariable("script_dir") or "/usr/share/freeswitch/scripts"
local gw = dofile(script_dir .. "/gateway_common.lua")

local function var(name)
  local v = session and session:getVariable(name)
  if v == nil or v == "" or v == "_undef_" then
    return nil
  end
  return v
end

local UNASSIGNED = { UNALLOCATED_NUMBER = 404, NUMBER_CHANGED = 410, INVALID_NUMBER_FORMAT = 484 }
local UNASSIGNED_SIP = { [404] = true, [410] = true, [484] = true, [604] = true }

-- the contract's outcome: status, sip_code, duration_s
local function outcome(dialstatus, disposition, sip, billsec)
  dialstatus = (dialstatus or ""):upper()
  if dialstatus == "ANSWER" or dialstatus == "SUCCESS" or disposition == "SUCCESS" then
    return "answered", nil, math.max(0, math.floor(tonumber(billsec) or 0))
  end
  if dialstatus == "" and (disposition == nil or disposition == "") then
    return "not_dialed", nil, 0
  end
  sip = sip or UNASSIGNED[disposition or ""]
  if sip and UNASSIGNED_SIP[sip] then
    return "unassigned", sip, 0
  elseif dialstatus == "BUSY" or disposition == "USER_BUSY" or sip == 486 or sip == 600 then
    return "busy", sip, 0
  elseif dialstatus == "NOANSWER" or dialstatus == "CANCEL" or disposition == "NO_ANSWER"
      or disposition == "NO_USER_RESPONSE" or disposition == "ORIGINATOR_CANCEL"
      or sip == 408 or sip == 480 or sip == 487 then
    return "no_answer", sip, 0
  elseif disposition == "CALL_REJECTED" or sip == 403 or sip == 603 then
    return "rejected", sip, 0
  end
  return "failed", sip, 0
end

local function report()
  local attempt_id = var("gw_attempt_id")
  local decision = var("gw_decision") or ""
  if not attempt_id then
    return  -- the check failed or did not run: nothing to report
  end
  local dialstatus = var("DIALSTATUS")
  local disposition = var("originate_disposition")
  if decision ~= "allow" and not dialstatus and not disposition then
    return  -- denied and not dialled
  end
  local proto = var("last_bridge_proto_specific_hangup_cause") or ""
  local sip = tonumber(proto:match("^sip:(%d%d%d)$") or var("sip_term_status") or "")
  local status, sip_code, duration = outcome(dialstatus, disposition, sip, var("billsec"))
  local body = gw.json({
    { "status", status },
    { "sip_code", sip_code, "null_number" },
    { "duration_s", duration, "number" },
  })
  local cfg = gw.cfg
  local path = "/v1/calls/" .. attempt_id .. "/outcome"
  local result = "not sent"
  for attempt = 1, cfg.outcome_attempts do
    local http_status = gw.post(path, body, cfg.outcome_timeout_s)
    if http_status == 200 then
      result = "recorded"
      break
    end
    result = http_status and ("http " .. http_status) or "unreachable"
    local retry = http_status == nil or http_status == 429 or http_status == 502
                  or http_status == 503 or http_status == 504
    if not retry or attempt == cfg.outcome_attempts then
      break
    end
    freeswitch.msleep(math.floor(200 * 2 ^ (attempt - 1)))
  end
  gw.log(result == "recorded" and "info" or "err",
         string.format("outcome %s %s: %s", attempt_id, status, result))
end

local done, failure = pcall(report)
if not done then
  freeswitch.consoleLog("err", "gateway: outcome failed: " .. tostring(failure) .. "\n")
end
