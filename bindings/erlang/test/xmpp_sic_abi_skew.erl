%%% @doc The NIF built to expect another ABI version than the library's:
%%% its load() must refuse, so erlang:load_nif/2 fails.
-module(xmpp_sic_abi_skew).

-export([load_from/1, handle_parts/10, text_is_blank/1, handle_iq/5,
         features/1, version/0, abi_version/0]).

-spec load_from(string()) -> ok | {error, term()}.
load_from(Path) -> erlang:load_nif(Path, 0).

-spec handle_parts(term(), term(), term(), term(), term(), term(), term(), term(), term(),
                   term()) -> no_return().
handle_parts(_, _, _, _, _, _, _, _, _, _) -> erlang:nif_error(nif_not_loaded).
-spec text_is_blank(term()) -> no_return().
text_is_blank(_) -> erlang:nif_error(nif_not_loaded).
-spec handle_iq(term(), term(), term(), term(), term()) -> no_return().
handle_iq(_, _, _, _, _) -> erlang:nif_error(nif_not_loaded).
-spec features(term()) -> no_return().
features(_) -> erlang:nif_error(nif_not_loaded).
-spec version() -> no_return().
version() -> erlang:nif_error(nif_not_loaded).
-spec abi_version() -> no_return().
abi_version() -> erlang:nif_error(nif_not_loaded).
