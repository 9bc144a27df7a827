%%% @doc The NIF built against the library's panic-probe feature and with
%%% test hooks: a request with id "xmpp-sic:panic" panics inside the
%%% library, handle_iq_cap/6 chooses the reply buffer, so tests reach
%%% every status, and parse_reply/1 runs the reply parser alone.
-module(xmpp_sic_probe).

-export([load_from/1, handle_iq/5, handle_iq_el/5, handle_iq_cap/6, parse_reply/1,
         features/1, version/0, abi_version/0]).

-spec load_from(string()) -> ok | {error, term()}.
load_from(Path) -> erlang:load_nif(Path, 0).

-spec handle_iq(iodata(), binary(), binary() | undefined, xmpp_sic:peer(), [xmpp_sic:flag()]) -> term().
handle_iq(_, _, _, _, _) -> erlang:nif_error(nif_not_loaded).
-spec handle_iq_el(iodata(), binary(), binary() | undefined, xmpp_sic:peer(), [xmpp_sic:flag()]) -> term().
handle_iq_el(_, _, _, _, _) -> erlang:nif_error(nif_not_loaded).
-spec handle_iq_cap(iodata(), binary(), binary() | undefined, xmpp_sic:peer(), [xmpp_sic:flag()],
                    non_neg_integer() | null) -> term().
handle_iq_cap(_, _, _, _, _, _) -> erlang:nif_error(nif_not_loaded).
-spec parse_reply(binary()) -> {ok, xmpp_sic:xmlel()} | error.
parse_reply(_) -> erlang:nif_error(nif_not_loaded).
-spec features([xmpp_sic:flag()]) -> [binary()].
features(_) -> erlang:nif_error(nif_not_loaded).
-spec version() -> binary().
version() -> erlang:nif_error(nif_not_loaded).
-spec abi_version() -> non_neg_integer().
abi_version() -> erlang:nif_error(nif_not_loaded).
