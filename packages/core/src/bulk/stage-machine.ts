// The stage machine of a bulk request, written once: the TS check and the Lua every stage-changing
// script runs are built from the same table.
import type { BulkStage } from '../schemas/bulk.js';

/** Which stage may follow which. A transition to the stage a request is already in is a no-op. */
export const NEXT_STAGES: Readonly<Record<BulkStage, readonly BulkStage[]>> = {
  queued: ['processing', 'failed', 'cancelled'],
  processing: ['queued', 'processed_awaiting_report', 'failed', 'cancelled'],
  processed_awaiting_report: ['completed', 'failed'],
  // A failed or cancelled request is still reported (its record then notes the report), but its stage stays.
  // The one way out of failed is an administrator's re-drive (POST /admin/bulk/:id/retry, REDRIVE in
  // redrive.ts): once the cause (say, Postgres down) is fixed, its remaining items are queued again.
  // No worker script moves a request to queued from failed: START refuses a failed request, and a
  // failed attempt is recorded only for a request its worker was processing.
  failed: ['queued'],
  cancelled: [],
  completed: [],
};

export function canMoveStage(from: BulkStage, to: BulkStage): boolean {
  return from === to || NEXT_STAGES[from].includes(to);
}

export const STAGE_MACHINE_LUA = `
local NEXT = {${Object.entries(NEXT_STAGES)
  .map(([from, tos]) => `${from} = {${tos.map((to) => `${to} = true`).join(', ')}}`)
  .join(', ')}}
-- 'moved', 'same' (already there: a replay) or 'refused'
local function move_stage(record, to)
  local from = redis.call('HGET', record, 'stage')
  if from == to then return 'same' end
  if from and NEXT[from] and NEXT[from][to] then
    redis.call('HSET', record, 'stage', to)
    return 'moved'
  end
  return 'refused'
end
local function listed_in(list, id)
  for item in string.gmatch(list or '', '[^,]+') do
    if item == id then return true end
  end
  return false
end`;
