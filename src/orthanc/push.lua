--[[
jointspace push: tells jointspace as soon as a study in this Orthanc has become stable.

Orthanc runs this script when its configuration lists it under "LuaScripts". For each stable
study it sends

  POST <Url>/api/orthanc/stable-study
  Authorization: Bearer <WebhookSecret>
  Content-Type: application/json

  { "orthancStudyId": "<Orthanc study id>", "studyInstanceUid": "<Study Instance UID>" }

The URL and the secret are read from Orthanc's configuration, never written into this file.
Add to the configuration (any JSON file of Orthanc's configuration folder):

  "LuaScripts": [ "/path/to/jointspace/src/orthanc/push.lua" ],
  "Jointspace": {
    "Url": "http://127.0.0.1:8080",
    "WebhookSecret": "<the webhook secret jointspace is configured with>"
  }

"Url" is jointspace's base URL (a path prefix is kept; no user:password@, because Orthanc
logs the URL of a failed request).

Delivery is best effort and never retried here: when jointspace does not answer, the script
logs the Orthanc study id (no patient data) and carries on. jointspace's poller of
Orthanc's /changes is the safety net and finds the study on its next tick.

Only a study that holds nothing but jointspace's own output (every series with Manufacturer
"jointspace") is skipped. A study that jointspace's SR or overlay made stable again is still
sent: jointspace recognises that case itself, from the images it graded.

What this script relies on in Orthanc 1.10 (found by running Debian's Orthanc 1.10.1):
- GetOrthancConfiguration() returns the whole merged configuration as a Lua table.
- HttpPost(url, body, headers) answers nil when no HTTP answer came (connection refused,
  timeout) and otherwise the answer body, which is an empty string for any HTTP error status
  (Orthanc logs "received HTTP status ..." itself). jointspace answers 202 with a JSON body
  naming the job, so an empty answer means it refused the request.
- An empty headers table makes Orthanc 1.10 abort (Json::LogicError): always pass headers.
- There is no SetHttpTimeout() in 1.10: the wait is bounded by the global "HttpTimeout"
  (seconds, default 60), and Lua events wait in line meanwhile.
- DumpJson(value, true) keeps strings as strings; without `true` a UID such as "1.2" would
  be sent as a number.
- Callbacks are global functions: a script listed after this one that defines
  OnStableStudy() or Initialize() replaces ours, so list this script last. Handlers defined
  by scripts listed before it are still called.
- Scripts are loaded into two Lua contexts but Initialize() is called once: the settings are
  read at load, in each context, and only reported in Initialize().
]]

local STABLE_STUDY_PATH = '/api/orthanc/stable-study'
local OWN_MANUFACTURER = 'jointspace'

-- The endpoint and secret, or nil and the reason why push is off.
local function readSettings()
  local section = GetOrthancConfiguration()['Jointspace']
  if type(section) ~= 'table' then
    return nil, 'the configuration has no "Jointspace" section'
  end

  local url = section['Url']
  if type(url) ~= 'string' or string.match(url, '^https?://[^/@]+') == nil then
    return nil, '"Jointspace.Url" must be an http or https URL'
  end
  if string.match(url, '^https?://[^/]*@') ~= nil then
    return nil, '"Jointspace.Url" must not hold credentials (Orthanc logs failed URLs)'
  end

  local secret = section['WebhookSecret']
  if type(secret) ~= 'string' or secret == '' then
    return nil, '"Jointspace.WebhookSecret" must be a non-empty string'
  end

  local base = string.gsub(url, '/+$', '')
  return { endpoint = base .. STABLE_STUDY_PATH, secret = secret }
end

local settings, problem = readSettings()

-- True when every series of the study was written by jointspace: nothing there to grade.
local function onlyOwnOutput(studyId)
  local answer = RestApiGet('/studies/' .. studyId .. '/series')
  if type(answer) ~= 'string' then
    return false
  end

  local series = ParseJson(answer)
  if type(series) ~= 'table' or #series == 0 then
    return false
  end
  for _, one in ipairs(series) do
    local tags = one['MainDicomTags']
    if type(tags) ~= 'table' or tags['Manufacturer'] ~= OWN_MANUFACTURER then
      return false
    end
  end
  return true
end

local function push(studyId, tags)
  if settings == nil then
    print('jointspace push: study ' .. studyId .. ' not sent: ' .. problem)
    return
  end

  local checked, own = pcall(onlyOwnOutput, studyId)
  if checked and own then
    return
  end

  local body = DumpJson({
    orthancStudyId = studyId,
    studyInstanceUid = tags['StudyInstanceUID'],
  }, true)
  local headers = {
    ['Authorization'] = 'Bearer ' .. settings.secret,
    ['Content-Type'] = 'application/json',
  }
  local answer = HttpPost(settings.endpoint, body, headers)
  if answer == nil then
    print('jointspace push: study ' .. studyId .. ' not delivered: jointspace did not answer;'
      .. ' its poller will find the study')
  elseif answer == '' then
    print('jointspace push: study ' .. studyId .. ' not accepted: see the HTTP status Orthanc'
      .. ' logged; its poller will find the study')
  end
end

-- Ours first: it raises no error, so an earlier script's handler runs as it would alone.
local previousInitialize = Initialize
function Initialize()
  if settings == nil then
    print('jointspace push: off: ' .. problem)
  else
    print('jointspace push: stable studies go to ' .. settings.endpoint)
  end
  if previousInitialize ~= nil then
    previousInitialize()
  end
end

local previousOnStableStudy = OnStableStudy
function OnStableStudy(studyId, tags, metadata)
  push(studyId, tags)
  if previousOnStableStudy ~= nil then
    previousOnStableStudy(studyId, tags, metadata)
  end
end
