-- Stand-in for Jitsi's mod_auth_jitsi-anonymous (Ensemble CI): SASL ANONYMOUS logins with a
-- random node part, nothing else. Written against prosody 13's module paths (prosody.util.*),
-- which is what the real plugins need and what prosody 0.12 lacks.
local new_sasl = require "prosody.util.sasl".new;

local provider = {};

function provider.test_password() return nil, "password authentication is not supported"; end
function provider.get_password() return nil, "password authentication is not supported"; end
function provider.set_password() return nil, "password authentication is not supported"; end
function provider.user_exists() return nil; end
function provider.create_user() return nil, "account creation is not supported"; end
function provider.delete_user() return nil, "account deletion is not supported"; end

function provider.get_sasl_handler()
	return new_sasl(module.host, {
		anonymous = function(_, _, _) return true; end;
	});
end

module:hook("user-exists", function() return nil; end);
module:provides("auth", provider);
