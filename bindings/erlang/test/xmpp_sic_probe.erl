%%% @doc The NIF built against the library's panic-probe feature: a
%%% request with id "xmpp-sic:panic" panics inside the library, so tests
%%% see how the NIF reports a caught panic.
-module(xmpp_sic_probe).

-export([load_from/1, handle_parts/10, text_is_blank/1, handle_iq/5,
         features/1, version/0, abi_version/0]).

-spec load_from(string()) -> ok | {error, term()}.
load_from(Path) -> erlang:load_nif(Path, 0).

-spec handle_parts(atom(), binary(), binary(), [atom()], binary(), binary() | undefined,
                   xmpp_sic:peer(), xmpp_sic:transport(), xmpp_sic:source(), [xmpp_sic:flag()]) ->
          term().
handle_parts(_, _, _, _, _, _, _, _, _, _) -> erlang:nif_error(nif_not_loaded).
-spec text_is_blank(binary()) -> boolean().
text_is_blank(_) -> erlang:nif_error(nif_not_loaded).
-spec handle_iq(iodata(), binary(), binary() | undefined, xmpp_sic:peer(), [xmpp_sic:flag()]) -> term().
handle_iq(_, _, _, _, _) -> erlang:nif_error(nif_not_loaded).
-spec features([xmpp_sic:flag()]) -> [binary()].
features(_) -> erlang:nif_error(nif_not_loaded).
-spec version() -> binary().
version() -> erlang:nif_error(nif_not_loaded).
-spec abi_version() -> non_neg_integer().
abi_version() -> erlang:nif_error(nif_not_loaded).
