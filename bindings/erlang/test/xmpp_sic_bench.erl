%%% @doc Time per NIF call, measured in compiled code (a fun run by
%%% erl_eval would add microseconds of its own).
%%%
%%%   erl -noshell -pa _build/test/lib/xmpp_sic/ebin -pa _build/test/lib/xmpp_sic/test \
%%%       -eval 'xmpp_sic_bench:print(), halt().'
-module(xmpp_sic_bench).

-export([run/0, print/0, per_call/2, stanza_of/1]).

-define(SENDER, <<"alice@example.org/phone">>).
-define(PEER, {{192, 0, 2, 1}, 5222}).

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

%% A stanza of about Size bytes whose id is all character references: the
%% slowest input per byte for the library.
-spec stanza_of(pos_integer()) -> binary().
stanza_of(Size) ->
    Head = <<"<iq type='get' id='">>,
    Tail = <<"'><address xmlns='urn:xmpp:sic:1'/></iq>">>,
    Refs = (Size - byte_size(Head) - byte_size(Tail)) div 5,
    iolist_to_binary([Head, lists:duplicate(Refs, <<"&amp;">>), Tail]).

-spec run() -> [{string(), float()}].
run() ->
    Small = <<"<iq type='get' id='ab12'><address xmlns='urn:xmpp:sic:1'/></iq>">>,
    Call = fun(F, Iq) -> fun() -> xmpp_sic:F(Iq, ?SENDER, undefined, ?PEER, []) end end,
    [{"handle_iq, 64-byte sic:1 request", per_call(Call(handle_iq, Small), 100000)},
     {"handle_iq_el, same request", per_call(Call(handle_iq_el, Small), 100000)},
     {"handle_iq, 8 KiB of references",
      per_call(Call(handle_iq, stanza_of(8192)), 500)},
     {"handle_iq, 64 KiB of references (the costliest stanza accepted)",
      per_call(Call(handle_iq, stanza_of(65536)), 50)}].

-spec print() -> ok.
print() ->
    [io:format("~-66s ~9.2f us/call~n", [Label, Us]) || {Label, Us} <- run()],
    ok.
