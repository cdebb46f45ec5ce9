"""The Lua scripts of the availability store (`hotels/redis_store.py`): they compare versions
before they write, and keep each destination's search arrays in step with its cells."""

from __future__ import annotations

# The record format, in Lua's struct notation; the Python side packs the same bytes.
_FORMAT = ">HHI4I6I6"
_BEST = """
local function best_of(pk, cap, nrt, slot, day)
  local best = 0
  for r = 0, nrt - 1 do
    local o = (r * cap + slot) * 20
    local rec = redis.call('GETRANGE', pk, o, o + 19)
    if #rec == 20 then
      local d, a, p = struct.unpack('>HHI4I6I6', rec)
      if d == day and a > 0 and p > 0 and (best == 0 or p < best) then best = p end
    end
  end
  return best
end
"""
# KEYS: (property, search array) pairs. ARGV[1]: ring size; then 8 values a change: room type
# position, room types of the property, slot, night, version, rooms left, rate (-1: not in
# this change), position in the destination.
APPLY = (
    _BEST
    + """
local cap = tonumber(ARGV[1])
local out = {}
local j = 2
for i = 1, #KEYS, 2 do
  local pk, mk = KEYS[i], KEYS[i + 1]
  local rti, nrt, slot, day = tonumber(ARGV[j]), tonumber(ARGV[j+1]), tonumber(ARGV[j+2]), tonumber(ARGV[j+3])
  local ver, avail, rate, pos = tonumber(ARGV[j+4]), tonumber(ARGV[j+5]), tonumber(ARGV[j+6]), tonumber(ARGV[j+7])
  j = j + 8
  local off = (rti * cap + slot) * 20
  local cur = redis.call('GETRANGE', pk, off, off + 19)
  local ca, cr, cav, crv = 0, 0, -1, -1
  if #cur == 20 then
    local cday, a, r, av, rv = struct.unpack('>HHI4I6I6', cur)
    if cday == day then ca, cr, cav, crv = a, r, av, rv end
  end
  local na, nr, nav, nrv = ca, cr, cav, crv
  local wrote, same = false, false
  if avail >= 0 then
    if ver > cav then na, nav, wrote = avail, ver, true elseif ver == cav then same = true end
  end
  if rate >= 0 then
    if ver > crv then nr, nrv, wrote = rate, ver, true elseif ver == crv then same = true end
  end
  if wrote then
    redis.call('SETRANGE', pk, off, struct.pack('>HHI4I6I6', day, na, nr, math.max(nav, 0), math.max(nrv, 0)))
    redis.call('SETRANGE', mk, pos * 4, struct.pack('>I4', best_of(pk, cap, nrt, slot, day)))
    out[#out + 1] = 'a'
  elseif same then
    out[#out + 1] = 'd'
  else
    out[#out + 1] = 's'
  end
end
return table.concat(out)
"""
)

# KEYS[1]: a property; KEYS[2..]: search arrays for the nights in ARGV[4..] (slot, night pairs).
# Recomputes the property's entry in each: used after a bulk load met a property already there.
REFRESH = (
    _BEST
    + """
local cap, nrt, pos = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 2, #KEYS do
  local slot, day = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('SETRANGE', KEYS[i], pos * 4, struct.pack('>I4', best_of(KEYS[1], cap, nrt, slot, day)))
end
return 1
"""
)
