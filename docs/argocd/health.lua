-- Argo CD health check for the ops.smartcloudops.ai kinds (SmartCloudOpsApp, BackupSchedule, ScalingPolicy,
-- DRDrill, CertRenewal). They follow kstatus: observedGeneration plus Ready, Reconciling and Stalled conditions, and
-- a Suspended condition.
--   Suspended    reconciliation paused by the ops.smartcloudops.ai/reconcile-paused annotation, or Suspended=True
--                (spec.paused, spec.suspend, mode: Paused) for the current generation
--   Progressing  no status yet, the controller has not seen the latest generation, or Reconciling=True
--   Degraded     Stalled=True (e.g. InvalidSpec), or Ready=False while nothing is in progress
--   Healthy      Ready=True for the current generation; or Ready=Unknown with reason NotImplemented: the spec is
--                valid and the capability that would judge readiness does not exist yet, nothing is in progress or
--                stalled (kstatus Current), so sync waves are not held up; the message says NotImplemented
-- Checked in this order: annotation, no status or an unobserved generation, Stalled, Suspended, Reconciling, Ready.
local hs = { status = "Progressing", message = "Waiting for the controller" }

local annotations = obj.metadata and obj.metadata.annotations
if annotations ~= nil and annotations["ops.smartcloudops.ai/reconcile-paused"] == "true" then
  hs.status = "Suspended"
  hs.message = "Reconciliation is paused by annotation"
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  return hs
end

local generation = obj.metadata and obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "Waiting for the controller to observe generation " .. tostring(generation)
  return hs
end

local ready, reconciling, stalled, suspended
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then ready = c end
  if c.type == "Reconciling" then reconciling = c end
  if c.type == "Stalled" then stalled = c end
  if c.type == "Suspended" then suspended = c end
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return (c.reason or "") .. ": " .. c.message
  end
  return c.reason or ""
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end
if suspended ~= nil and suspended.status == "True" then
  hs.status = "Suspended"
  hs.message = describe(suspended)
  return hs
end
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling)
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end
if ready ~= nil and ready.status == "Unknown" and ready.reason == "NotImplemented" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end
return hs
