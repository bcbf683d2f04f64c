-- Compliance gateway settings for gateway_check.lua and gateway_outcome.lua.
-- Copy to FreeSWITCH's script directory (e.g. /usr/share/freeswitch/scripts/) next to them,
-- readable by the freeswitch user only: it holds the tenant's dialer key.
return {
  url = "https://gateway.example.fr",       -- no trailing slash
  dialer_key = "gw_REPLACE_WITH_THE_TENANT_DIALER_KEY",
  -- mod_curl counts whole seconds: 1 is the shortest budget it can enforce
  timeout_s = 1,
  outcome_timeout_s = 2,
  outcome_attempts = 3,
  -- default gateway campaign; a channel variable gw_campaign (set by the dialer) wins
  campaign = "spring-2026",
  -- external_id = prefix .. the channel's uuid: a re-run on the same channel is one attempt
  external_id_prefix = "freeswitch:" .. (freeswitch.getGlobalVariable("hostname") or "fs") .. ":",
}
