-- Bench only, never deploy: the same sic:1 reply mod_xmpp_sic sends, built
-- in plain Lua with no library call, on a namespace of its own. It is the
-- floor a Server IP Check costs inside Prosody, so that wire_cost.py can tell
-- what the library call and its checks add. It decides nothing a real
-- handler must (no target, shape or transport rules).

local st = require "util.stanza";
local stanza_mt, error_reply = st.stanza_mt, st.error_reply;
local setmetatable, tostring = setmetatable, tostring;

local NS = "urn:xmpp:sic:1";

-- Built as mod_xmpp_sic builds its reply, so that only the library call
-- and its checks differ.
local function leaf(name, text)
	return setmetatable({ name = name, attr = {}, tags = {}, text }, stanza_mt);
end

module:hook("iq/bare/urn:bench:sic1:address", function(event)
	local origin, stanza = event.origin, event.stanza;
	if stanza.attr.type ~= "get" then
		origin.send(error_reply(stanza, "cancel", "not-allowed"));
		return true;
	end
	local ip_el, port_el = leaf("ip", origin.ip), leaf("port", tostring(origin.conn:clientport()));
	local payload = setmetatable({ name = "address", attr = { xmlns = NS }, tags = { ip_el, port_el }, ip_el, port_el },
		stanza_mt);
	local attr = stanza.attr;
	origin.send(setmetatable({ name = "iq", attr = { id = attr.id, type = "result", to = attr.from, from = attr.to },
		tags = { payload }, payload }, stanza_mt));
	return true;
end);
