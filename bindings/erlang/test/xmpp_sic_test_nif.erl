%%% @doc Loads the test-only builds of the NIF (made by `make -C c_src
%%% test-nifs', which rebar3 runs before eunit) under their own module
%%% names, so they never replace the real xmpp_sic.
-module(xmpp_sic_test_nif).

-export([dir/0, load/2]).

%% The test NIFs live in _build/test-nifs of the application's source tree.
-spec dir() -> file:filename().
dir() ->
    Source = proplists:get_value(source, ?MODULE:module_info(compile)),
    filename:join([filename:dirname(filename:dirname(Source)), "_build", "test-nifs"]).

-spec load(module(), string()) -> ok | {error, term()}.
load(Module, File) ->
    Path = filename:join(dir(), File),
    case filelib:is_regular(Path ++ ".so") of
        true -> Module:load_from(Path);
        false -> error({missing_test_nif, Path ++ ".so", "run: make -C c_src test-nifs"})
    end.
