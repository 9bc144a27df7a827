-- Loads a Prosody module file outside Prosody, with just enough of the module
-- API (hook, add_feature, options, log, get_directory) to call its event
-- handlers directly. Prosody's own libraries come from /usr/lib/prosody, so
-- stanzas are real util.stanza objects. Used by the module's Lua tests and by
-- the handler benchmark; run with lua5.4 (Prosody's C modules need it).

package.path = "/usr/lib/prosody/?.lua;" .. package.path
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath

local fake = {}

-- Modules that the tested module requires from Prosody's core, which would
-- otherwise pull in the whole server.
local loaded_on_host = {}
package.loaded["core.modulemanager"] = {
	is_loaded = function(_, name) return loaded_on_host[name] == true end,
}

function fake.set_loaded(name, loaded)
	loaded_on_host[name] = loaded
end

-- Returns the module's recorded state: hooks (event name -> handler),
-- features (list), logs (list of {level, message}).
function fake.load(path, options)
	local state = { hooks = {}, features = {}, logs = {} }
	local api = { host = "localhost", name = path:match("mod_([%w_]+)%.lua$") }
	function api:hook(name, fn) state.hooks[name] = fn end
	function api:add_feature(feature) table.insert(state.features, feature) end
	function api:get_option_boolean(name, default)
		local value = (options or {})[name]
		if value == nil then return default end
		return value
	end
	function api:log(level, fmt, ...) table.insert(state.logs, { level, fmt:format(...) }) end
	function api:get_directory() return (path:gsub("/[^/]*$", "")) end
	local env = setmetatable({ module = api }, { __index = _G })
	local chunk = assert(loadfile(path, "t", env))
	chunk()
	return state
end

-- A connection as server_epoll presents it.
function fake.conn(ip, port)
	local conn = {}
	function conn:ip() return ip end
	function conn:clientport() return port end
	function conn:port() return port end
	return conn
end

-- A c2s session whose send() serialises, as mod_c2s's does, and keeps what
-- was sent.
function fake.session(fields)
	local session = { type = "c2s", username = "alice", host = "localhost", sent = {} }
	for k, v in pairs(fields or {}) do session[k] = v end
	if session.full_jid == nil then
		session.full_jid = session.username .. "@localhost/res"
	elseif session.full_jid == false then
		session.full_jid = nil
	end
	function session.send(stanza)
		table.insert(session.sent, stanza)
		return true
	end
	return session
end

return fake
