%%% Per-IQ cost inside one running ejabberd node, from request bytes to
%%% reply bytes through ejabberd's own stream parser, router, IQ handler
%%% dispatch, encoder and socket send, for three handlers of the same kind
%%% of request (a get with an empty payload, no 'to'):
%%%   (a) mod_xmpp_sic answering sic:1,
%%%   (b) ejabberd's mod_ping answering a ping,
%%%   (c) mod_xmpp_sic_bench_native, building the same sic:1 reply as
%%%       records with no library call.
%%% A client inside the node logs in over the c2s listener on loopback and
%%% pipelines batches of N requests of one kind, then reads until the last
%%% reply; the kinds take turns within every round (in every order, round
%%% after round), so a change of load from elsewhere on the machine hits
%%% all alike. The sender's c2s process, which
%%% runs every step of the path, is the bottleneck, so the wall time per IQ
%%% of a batch is that process's cost per IQ; the schedulers' busy time per
%%% IQ (every process of the node, the client's included) is given too.
%%% Nothing is asserted on time; every reply must be a result.
-module(mod_xmpp_sic_bench).

-export([run/6, handlers/2]).

-include("xmpp.hrl").

-define(SEND_CHUNK, 100).

%% Returns, for each kind, {Label, WallMedian, WallMin, BusyMedian, Reply,
%% Rounds} in microseconds per IQ over Rounds rounds of N IQs, with one
%% reply of that kind as text and each round's {Wall, Busy}, so that ratios
%% can be taken round by round.
-spec run(binary(), binary(), binary(), inet:port_number(), pos_integer(), pos_integer()) ->
          [{string(), float(), float(), float(), binary(), [{float(), float()}]}].
run(User, Host, Password, Port, N, Rounds) ->
    mod_xmpp_sic_bench_native:install(Host),
    Flag = erlang:system_flag(scheduler_wall_time, true),
    try
        {ok, Sock} = login(User, Host, Password, Port),
        try
            bench(Sock, N, Rounds)
        after
            gen_tcp:close(Sock)
        end
    after
        erlang:system_flag(scheduler_wall_time, Flag),
        mod_xmpp_sic_bench_native:uninstall(Host)
    end.

kinds() ->
    [{"(a) mod_xmpp_sic, sic:1", "a", <<"<address xmlns='urn:xmpp:sic:1'/>">>},
     {"(b) mod_ping, ping", "b", <<"<ping xmlns='urn:xmpp:ping'/>">>},
     {"(c) native records handler, same sic:1 reply", "c",
      <<"<address xmlns='urn:xmpp-sic:bench:native'/>">>}].

bench(Sock, N, Rounds) ->
    Kinds = kinds(),
    Samples = [one_reply(Sock, Tag, Payload) || {_, Tag, Payload} <- Kinds],
    _ = [batch(Sock, Tag, Payload, 0, N) || {_, Tag, Payload} <- Kinds],
    Times = [round(Sock, Kinds, R, N) || R <- lists:seq(1, Rounds)],
    [{Label, median([element(1, lists:nth(I, T)) || T <- Times]),
      lists:min([element(1, lists:nth(I, T)) || T <- Times]),
      median([element(2, lists:nth(I, T)) || T <- Times]), Sample, [lists:nth(I, T) || T <- Times]}
     || {I, {Label, _, _}, Sample} <- lists:zip3(lists:seq(1, length(Kinds)), Kinds, Samples)].

%% One batch of each kind. The order runs through every permutation of the
%% kinds, one per round, so that over six rounds each kind takes each place
%% twice and comes right after each other kind twice: none is always the
%% one that follows a given kind's garbage.
round(Sock, Kinds, R, N) ->
    Orders = permutations(lists:zip(lists:seq(1, length(Kinds)), Kinds)),
    Order = lists:nth(R rem length(Orders) + 1, Orders),
    Timed = [{I, batch(Sock, Tag, Payload, R, N)} || {I, {_, Tag, Payload}} <- Order],
    [T || {_, T} <- lists:sort(Timed)].

permutations([]) -> [[]];
permutations(Xs) -> [[X | Rest] || X <- Xs, Rest <- permutations(Xs -- [X])].

median(Xs) ->
    lists:nth((length(Xs) + 1) div 2, lists:sort(Xs)).

request(Tag, Id, Payload) ->
    [<<"<iq type='get' id='">>, Tag, Id, <<"'>">>, Payload, <<"</iq>">>].

%% The reply to one request, whole: a ping sent after it marks where it
%% ends, as replies come back in order.
one_reply(Sock, Tag, Payload) ->
    ok = gen_tcp:send(Sock, [request(Tag, "-sample", Payload),
                             request("end", "-sample", <<"<ping xmlns='urn:xmpp:ping'/>">>)]),
    Bytes = recv_until(Sock, <<"id='end-sample'">>),
    [{First, _}, {Marker, _}] = binary:matches(Bytes, <<"<iq ">>),
    Reply = binary:part(Bytes, First, Marker - First),
    <<"result">> = fxml:get_tag_attr_s(<<"type">>, fxml_stream:parse_element(Reply)),
    Reply.

%% Wall and scheduler-busy microseconds per IQ for one pipelined batch.
batch(Sock, Tag, Payload, Round, N) ->
    Prefix = [Tag, integer_to_list(Round), "-"],
    Chunks = [iolist_to_binary([request(Prefix, integer_to_list(I), Payload)
                                || I <- lists:seq(First, min(First + ?SEND_CHUNK - 1, N))])
              || First <- lists:seq(1, N, ?SEND_CHUNK)],
    Last = iolist_to_binary(["id='", Prefix, integer_to_list(N), "'"]),
    Busy0 = erlang:statistics(scheduler_wall_time_all),
    T0 = erlang:monotonic_time(microsecond),
    %% A separate sender, so replies are read while requests are written
    %% and neither side's socket buffer can fill while the other waits.
    Sender = spawn_link(fun() -> [ok = gen_tcp:send(Sock, C) || C <- Chunks] end),
    Bytes = recv_until(Sock, Last),
    Wall = erlang:monotonic_time(microsecond) - T0,
    Busy = busy_us(Busy0, erlang:statistics(scheduler_wall_time_all), Wall),
    unlink(Sender),
    N = length(binary:matches(Bytes, <<"type='result'">>)),
    {Wall / N, Busy / N}.

%% Each scheduler's share of busy time over the batch, times its length.
busy_us(Before, After, Wall) ->
    lists:sum([(A1 - A0) / max(1, T1 - T0) * Wall
               || {{I, A0, T0}, {I, A1, T1}} <- lists:zip(lists:sort(Before), lists:sort(After))]).

login(User, Host, Password, Port) ->
    {ok, Sock} = gen_tcp:connect({127, 0, 0, 1}, Port,
                                 [binary, {active, false}, {packet, raw}, {nodelay, true}]),
    open_stream(Sock, Host),
    Token = base64:encode(<<0, User/binary, 0, Password/binary>>),
    ok = gen_tcp:send(Sock, [<<"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>">>,
                             Token, <<"</auth>">>]),
    _ = recv_until(Sock, <<"<success">>),
    open_stream(Sock, Host),
    ok = gen_tcp:send(Sock, <<"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                              "<resource>bench</resource></bind></iq>">>),
    _ = recv_until(Sock, <<"</iq>">>),
    {ok, Sock}.

open_stream(Sock, Host) ->
    ok = gen_tcp:send(Sock, [<<"<?xml version='1.0'?><stream:stream to='">>, Host,
                             <<"' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
                               " version='1.0'>">>]),
    _ = recv_until(Sock, <<"</stream:features>">>).

%% Reads until Pattern has arrived; returns everything read. Only the tail
%% of what came before is searched again, so a batch costs one pass.
recv_until(Sock, Pattern) ->
    recv_until(Sock, Pattern, <<>>, []).

recv_until(Sock, Pattern, Tail, Acc) ->
    {ok, Data} = gen_tcp:recv(Sock, 0, 30000),
    Window = <<Tail/binary, Data/binary>>,
    case binary:match(Window, Pattern) of
        nomatch ->
            Keep = min(byte_size(Window), byte_size(Pattern) - 1),
            recv_until(Sock, Pattern, binary:part(Window, byte_size(Window) - Keep, Keep),
                       [Data | Acc]);
        _ ->
            iolist_to_binary(lists:reverse([Data | Acc]))
    end.

%% What (a) and (c) differ in, alone: each module's user_send_packet hook on
%% the decoded request and its handler building the reply record, in
%% microseconds per IQ, for a session-less JID: the median and the minimum
%% of 41 interleaved rounds of N. Load from elsewhere only ever adds time,
%% so on a busy machine the minimum is the steadier figure of the two.
-spec handlers(binary(), pos_integer()) -> [{string(), float(), float()}].
handlers(Host, N) ->
    From = jid:make(<<"bench">>, Host, <<"handlers">>),
    State = #{ip => {{127, 0, 0, 1}, 40000}, socket => xmpp_socket:new(gen_tcp, undefined, [])},
    IQ = fun(NS) -> #iq{type = get, id = <<"h">>, from = From, to = jid:remove_resource(From),
                        sub_els = [#xmlel{name = <<"address">>, attrs = [{<<"xmlns">>, NS}]}]} end,
    Path = fun(Module, NS) ->
                   Request = IQ(NS),
                   fun() -> {Stamped, _} = Module:user_send_packet({Request, State}),
                            #iq{type = result} = Module:process_iq(Stamped) end
           end,
    Paths = [{"(a) mod_xmpp_sic: hook + process_iq", Path(mod_xmpp_sic, <<"urn:xmpp:sic:1">>)},
             {"(c) native: hook + process_iq", Path(mod_xmpp_sic_bench_native, <<"urn:xmpp-sic:bench:native">>)}],
    Rounds = [[per_call(Fun, N) || {_, Fun} <- Paths] || _ <- lists:seq(1, 41)],
    [{Label, median([lists:nth(I, R) || R <- Rounds]), lists:min([lists:nth(I, R) || R <- Rounds])}
     || {I, {Label, _}} <- lists:zip(lists:seq(1, length(Paths)), Paths)].

per_call(Fun, N) ->
    {Us, ok} = timer:tc(fun() -> repeat(Fun, N) end),
    Us / N.

repeat(_Fun, 0) -> ok;
repeat(Fun, K) -> _ = Fun(), repeat(Fun, K - 1).
