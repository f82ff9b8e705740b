//! The Lua scripts, loaded once per server and called with `EVALSHA` (reloaded after a restart:
//! `redis::Script` answers `NOSCRIPT` by loading the script and calling it again). Scripts that tell
//! the time start with `lua/clock.lua`; the checks' bodies are functions (`lua/fn_*.lua`) shared by the
//! script of each check and by `lua/start.lua`, which runs several of them in one call.

use redis::Script;

/// Every script the backend runs.
pub(crate) struct Scripts {
    pub(crate) start: Script,
    pub(crate) limit: Script,
    pub(crate) reserve: Script,
    pub(crate) complete: Script,
    pub(crate) release: Script,
    pub(crate) breaker_admit: Script,
    pub(crate) breaker_trip: Script,
    pub(crate) breaker_release: Script,
    pub(crate) spend_reserve: Script,
    pub(crate) spend_adjust: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            start: Script::new(concat!(
                include_str!("lua/clock.lua"),
                include_str!("lua/fn_reserve.lua"),
                include_str!("lua/fn_breaker.lua"),
                include_str!("lua/fn_limit.lua"),
                include_str!("lua/fn_start.lua"),
                include_str!("lua/start.lua")
            )),
            limit: Script::new(concat!(
                include_str!("lua/clock.lua"),
                include_str!("lua/fn_limit.lua"),
                include_str!("lua/limit.lua")
            )),
            reserve: Script::new(concat!(
                include_str!("lua/clock.lua"),
                include_str!("lua/fn_reserve.lua"),
                include_str!("lua/reserve.lua")
            )),
            complete: Script::new(concat!(
                include_str!("lua/clock.lua"),
                include_str!("lua/complete.lua")
            )),
            release: Script::new(include_str!("lua/release.lua")),
            breaker_admit: Script::new(concat!(
                include_str!("lua/clock.lua"),
                include_str!("lua/fn_breaker.lua"),
                include_str!("lua/breaker_admit.lua")
            )),
            breaker_trip: Script::new(concat!(
                include_str!("lua/clock.lua"),
                include_str!("lua/breaker_trip.lua")
            )),
            breaker_release: Script::new(include_str!("lua/breaker_release.lua")),
            spend_reserve: Script::new(include_str!("lua/spend_reserve.lua")),
            spend_adjust: Script::new(include_str!("lua/spend_adjust.lua")),
        }
    }
}
