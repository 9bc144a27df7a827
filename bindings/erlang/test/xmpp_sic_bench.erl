%%% @doc Time per NIF call, measured in compiled code (a fun run by
%%% erl_eval would add microseconds of its own).
%%%
%%%   erl -noshell -pa _build/test/lib/xmpp_sic/ebin -pa _build/test/lib/xmpp_sic/test \
%%%       -eval 'xmpp_sic_bench:print(), halt().'
-module(xmpp_sic_bench).

-export([run/0, print/0, per_call/2]).

-define(SENDER, <<"alice@example.org/phone">>).
-define(PEER, {{192, 0, 2, 1}, 5222}).
-define(SIC1, <<"urn:xmpp:sic:1">>).

%% Microseconds per call, as the median of five rounds of N calls.
-spec per_call(fun(() -> term()), pos_integer()) -> float().
per_call(Fun, N) ->
    Rounds = [begin
                  {Us, ok} = timer:tc(fun() -> repeat(Fun, N) end),
                  Us / N
              end || _ <- lists:seq(1, 5)],
    lists:nth(3, lists:sort(Rounds)).

repeat(_Fun, 0) -> ok;
repeat(Fun, N) -> Fun(), repeat(Fun, N - 1).

-spec run() -> [{string(), float()}].
run() ->
    Payload = {xmlel, <<"address">>, [{<<"xmlns">>, ?SIC1}], []},
    Deep = lists:foldl(fun(_, Inner) -> {xmlel, <<"a">>, [], [Inner]} end,
                       {xmlel, <<"a">>, [], []}, lists:seq(1, 5000)),
    Nested = {xmlel, <<"address">>, [{<<"xmlns">>, ?SIC1}], [Deep]},
    Parsed = fun(El) -> fun() -> xmpp_sic:handle_parsed(get, [El], ?SENDER, undefined, ?PEER,
                                                        stream, socket, []) end end,
    Small = <<"<iq type='get' id='ab12'><address xmlns='urn:xmpp:sic:1'/></iq>">>,
    [{"handle_parsed, sic:1 get", per_call(Parsed(Payload), 200000)},
     {"handle_parsed, sic:1 get with one child (bad-request)",
      per_call(Parsed(setelement(4, Payload, [{xmlel, <<"a">>, [], []}])), 200000)},
     {"handle_parsed, sic:1 get with a payload 5000 deep (bad-request)",
      per_call(Parsed(Nested), 200000)},
     {"handle_iq, the same 64-byte request as text",
      per_call(fun() -> xmpp_sic:handle_iq(Small, ?SENDER, undefined, ?PEER, []) end, 200000)}].

-spec print() -> ok.
print() ->
    [io:format("~-66s ~9.3f us/call~n", [Label, Us]) || {Label, Us} <- run()],
    ok.
