%%% EUnit tests of the xmpp_sic NIF: handle_parsed/8 on the terms
%%% fast_xml and ejabberd parse into, its agreement with handle_iq/5 (the
%%% library's own parser) on the same requests, and malformed terms.
-module(xmpp_sic_tests).

-include_lib("eunit/include/eunit.hrl").

-define(SENDER, <<"alice@example.org/phone">>).
-define(PEER4, {{192, 0, 2, 1}, 5222}).
-define(NS0, <<"urn:xmpp:sic:0">>).
-define(NS1, <<"urn:xmpp:sic:1">>).

%%% Helpers

el(Name, Ns) -> el(Name, Ns, []).
el(Name, Ns, Children) -> {xmlel, Name, [{<<"xmlns">>, Ns}], Children}.

sic1() -> el(<<"address">>, ?NS1).
sic0_ip() -> el(<<"ip">>, ?NS0).
sic0_address() -> el(<<"address">>, ?NS0).

call(SubEls) -> call(get, SubEls, undefined, ?PEER4).
call(Type, SubEls, Target, Peer) -> call(Type, SubEls, Target, Peer, stream, socket, []).
call(Type, SubEls, Target, Peer, Transport, Source, Flags) ->
    xmpp_sic:handle_parsed(Type, SubEls, ?SENDER, Target, Peer, Transport, Source, Flags).

result1() -> {result, sic1_address, <<"192.0.2.1">>, 5222}.

%% The error's type and condition, after checking that it has a text.
error_of({error, Type, Condition, Text}) when is_binary(Text), byte_size(Text) > 0 ->
    {Type, Condition}.

%%% Results

sic1_ipv4_test() ->
    ?assertEqual(result1(), call([sic1()])).

sic1_ipv6_test() ->
    ?assertEqual({result, sic1_address, <<"2001:db8::1">>, 443},
                 call(get, [sic1()], undefined, {{16#2001, 16#db8, 0, 0, 0, 0, 0, 1}, 443})),
    ?assertEqual({result, sic1_address, <<"::1">>, 40000},
                 call(get, [sic1()], undefined, {{0, 0, 0, 0, 0, 0, 0, 1}, 40000})).

v4_mapped_test() ->
    Mapped = {{0, 0, 0, 0, 0, 16#ffff, 16#7f00, 1}, 1234},
    ?assertEqual({result, sic1_address, <<"127.0.0.1">>, 1234}, call(get, [sic1()], undefined, Mapped)),
    ?assertEqual({result, sic1_address, <<"::ffff:127.0.0.1">>, 1234},
                 call(get, [sic1()], undefined, Mapped, stream, socket, [keep_v4_mapped])).

no_port_test_() ->
    NoPort = {result, sic1_address, <<"192.0.2.1">>, undefined},
    [?_assertEqual(NoPort, call(get, [sic1()], undefined, ?PEER4, stream, socket, [omit_port])),
     ?_assertEqual(NoPort, call(get, [sic1()], undefined, {{192, 0, 2, 1}, 0})),
     ?_assertEqual(NoPort, call(get, [sic1()], undefined, ?PEER4, bosh, socket, [])),
     ?_assertEqual(NoPort, call(get, [sic1()], undefined, ?PEER4, websocket, forwarded, [])),
     ?_assertEqual(NoPort, call(get, [sic1()], undefined, ?PEER4, stream, forwarded, []))].

port_reported_test_() ->
    [?_assertEqual(result1(), call(get, [sic1()], undefined, ?PEER4, T, S, []))
     || {T, S} <- [{stream, socket}, {stream, proxy_protocol}, {websocket, socket},
                   {websocket, proxy_protocol}]].

sic0_forms_never_have_a_port_test() ->
    ?assertEqual({result, sic0_ip, <<"192.0.2.1">>, undefined}, call([sic0_ip()])),
    ?assertEqual({result, sic0_address, <<"192.0.2.1">>, undefined}, call([sic0_address()])).

own_account_and_domain_are_answered_test_() ->
    [?_assertEqual(result1(), call(get, [sic1()], T, ?PEER4))
     || T <- [<<"alice@example.org">>, <<"example.org">>, <<>>]].

shape_accepted_test_() ->
    Ws = {xmlcdata, <<" \t\r\n">>},
    [?_assertEqual(result1(), call([{xmlel, <<"address">>, [{<<"xmlns">>, ?NS1}, {<<"a">>, <<"1">>}], []}])),
     ?_assertEqual(result1(), call([el(<<"address">>, ?NS1, [Ws, Ws])])),
     ?_assertEqual(result1(), call([Ws, sic1(), Ws])),
     %% A namespace declaration is not an attribute.
     ?_assertEqual(result1(), call([{xmlel, <<"address">>,
                                     [{<<"xmlns:s">>, ?NS1}, {<<"xmlns">>, ?NS1}], []}]))].

shape_refused_test_() ->
    Text = {xmlcdata, <<"192.0.2.1">>},
    Child = {xmlel, <<"ip">>, [], []},
    [?_assertEqual({modify, 'bad-request'}, error_of(call(SubEls)))
     || SubEls <- [[el(<<"address">>, ?NS1, [Child])],
                   [el(<<"address">>, ?NS1, [Text])],
                   [el(<<"address">>, ?NS1, [{xmlcdata, <<" x ">>}])],
                   [sic1(), Child],
                   [sic1(), Text],
                   [Text, sic1()],
                   [sic1(), sic1()]]].

%% The NIF reads the payload's direct children only: what lies below them
%% is never visited, so a term no parser would make, two levels down, is
%% not noticed, and a hundred thousand levels cost what one does.
deep_payload_is_never_walked_test_() ->
    Deep = lists:foldl(fun(_, Inner) -> {xmlel, <<"a">>, [], [Inner]} end,
                       {xmlel, <<"a">>, [], []}, lists:seq(1, 100000)),
    Bogus = {xmlel, <<"a">>, [], [{xmlel, 1, not_a_list, [not_a_node | improper]}]},
    [?_assertEqual({modify, 'bad-request'}, error_of(call([el(<<"address">>, ?NS1, [Deep])]))),
     ?_assertEqual({modify, 'bad-request'}, error_of(call([el(<<"address">>, ?NS1, [Bogus])])))].

%% The namespace is the first xmlns attribute, the one ejabberd routed on.
first_xmlns_wins_test_() ->
    Payload = fun(Attrs) -> [{xmlel, <<"address">>, Attrs, []}] end,
    Other = <<"jabber:iq:version">>,
    [?_assertEqual(result1(), call(Payload([{<<"xmlns">>, ?NS1}, {<<"xmlns">>, Other}]))),
     ?_assertEqual(pass, call(Payload([{<<"xmlns">>, Other}, {<<"xmlns">>, ?NS1}]))),
     ?_assertEqual(pass, call(Payload([{<<"xmlns">>, <<>>}, {<<"xmlns">>, ?NS1}]))),
     ?_assertEqual(result1(), call(Payload([{<<"a">>, <<"1">>}, {<<"xmlns">>, ?NS1}])))].

%% Many children or siblings: each is looked at once, only its kind counts.
wide_payload_test_() ->
    Many = fun(Child) -> lists:duplicate(100000, Child) end,
    [?_assertEqual(result1(), call([el(<<"address">>, ?NS1, Many({xmlcdata, <<" ">>}))])),
     ?_assertEqual({modify, 'bad-request'},
                   error_of(call([el(<<"address">>, ?NS1, Many({xmlel, <<"a">>, [], []}))]))),
     ?_assertEqual({modify, 'bad-request'}, error_of(call([sic1() | Many(sic1())]))),
     ?_assertEqual(result1(),
                   call([el(<<"address">>, ?NS1, [{xmlcdata, binary:copy(<<" ">>, 1 bsl 20)}])]))].

%%% handle_parsed/8's own NIFs

%% XML's S production and nothing else: no vertical tab, form feed or
%% no-break space.
text_is_blank_test_() ->
    [?_assert(xmpp_sic:text_is_blank(T)) || T <- [<<>>, <<" ">>, <<" \t\r\n">>]] ++
        [?_assertNot(xmpp_sic:text_is_blank(T))
         || T <- [<<"x">>, <<" x ">>, <<"\v">>, <<"\f">>, <<16#c2, 16#a0>>, <<0>>]] ++
        [?_assertError(badarg, xmpp_sic:text_is_blank(T))
         || T <- [" ", blank, {xmlcdata, <<" ">>}, <<1:7>>]].

parts(Shape) -> parts(<<"address">>, ?NS1, Shape).
parts(Name, Ns, Shape) ->
    xmpp_sic:handle_parts(get, Name, Ns, Shape, ?SENDER, undefined, ?PEER4, stream, socket, []).

%% Each atom stands for its SIC_SHAPE_* bit.
handle_parts_shape_test_() ->
    [?_assertEqual(result1(), parts([])),
     ?_assertEqual(result1(), parts([attributes])),
     ?_assertEqual(pass, parts(<<>>, ?NS1, [])),
     ?_assertEqual(pass, parts(<<"address">>, <<>>, []))] ++
        [?_assertEqual({modify, 'bad-request'}, error_of(parts(Shape)))
         || Shape <- [[children], [text], [siblings], [siblings, attributes, text, children],
                      [text, text]]].

handle_parts_badarg_test_() ->
    [?_assertError(badarg, parts(Shape))
     || Shape <- [children, [bogus], [children | siblings], [<<"children">>], #{}]] ++
        [?_assertError(badarg, parts(Name, Ns, []))
         || {Name, Ns} <- [{address, ?NS1}, {"address", ?NS1}, {<<"address">>, undefined},
                           {<<"address">>, "urn:xmpp:sic:1"}]].

%%% XMPP errors

errors_test_() ->
    [?_assertEqual({auth, forbidden}, error_of(call(get, [sic1()], <<"bob@example.org">>, ?PEER4))),
     ?_assertEqual({auth, forbidden}, error_of(call(get, [sic1()], <<"example.net">>, ?PEER4))),
     ?_assertEqual({cancel, 'not-allowed'}, error_of(call(set, [sic1()], undefined, ?PEER4))),
     ?_assertEqual({modify, 'bad-request'}, error_of(call(bogus, [sic1()], undefined, ?PEER4))),
     ?_assertEqual({cancel, 'service-unavailable'}, error_of(call(get, [sic1()], undefined, undefined)))].

%%% Not ours, and failures

pass_test_() ->
    [?_assertEqual(pass, call(Type, SubEls, undefined, ?PEER4))
     || {Type, SubEls} <- [{get, [el(<<"query">>, <<"jabber:iq:version">>)]},
                           {get, [el(<<"query">>, ?NS1)]},
                           {result, [sic1()]},
                           {error, [sic1()]},
                           {get, []},
                           {get, [{xmlcdata, <<" ">>}]},
                           {get, [{xmlel, <<"address">>, [], []}]},
                           {get, [{xmlel, <<"s:address">>, [{<<"xmlns:s">>, ?NS1}], []}]},
                           {get, [el(<<>>, ?NS1)]}]] ++
        [?_assertEqual(pass, call(get, [P], undefined, ?PEER4, stream, socket, [no_sic0]))
         || P <- [sic0_ip(), sic0_address()]].

invalid_jid_test_() ->
    [?_assertEqual({error, invalid_argument},
                   xmpp_sic:handle_parsed(get, [sic1()], S, undefined, ?PEER4, stream, socket, []))
     || S <- [<<>>, <<"@example.org">>, <<"alice@">>, <<255, 254>>,
              <<(binary:copy(<<"a">>, 4000))/binary, "@example.org">>]] ++
        [?_assertEqual({error, invalid_argument}, call(get, [sic1()], T, ?PEER4))
         || T <- [<<"bob@">>, <<"a@b@c">>]].

%%% Malformed terms raise badarg, never crash

badarg_test_() ->
    Good = [get, [sic1()], ?SENDER, undefined, ?PEER4, stream, socket, []],
    With = fun(N, V) -> lists:sublist(Good, N - 1) ++ [V | lists:nthtail(N, Good)] end,
    Bad = fun(N, V) -> ?_assertError(badarg, apply(xmpp_sic, handle_parsed, With(N, V))) end,
    A = fun(Attrs) -> [{xmlel, <<"address">>, Attrs, []}] end,
    C = fun(Children) -> [{xmlel, <<"address">>, [{<<"xmlns">>, ?NS1}], Children}] end,
    [?_assertEqual(result1(), apply(xmpp_sic, handle_parsed, Good))] ++
        [Bad(1, T) || T <- [<<"get">>, "get", 1, {get}]] ++
        [Bad(2, S) || S <- [atom, <<>>, sic1(), [sic1() | tail], [sic1(), {xmlcdata, "x"}],
                            [{xmlel, <<"address">>, []}], [{xmlel, <<"a">>, [], [], []}],
                            [{xmlelx, <<"a">>, [], []}], [{xmlel, address, [], []}],
                            [{xmlel, "address", [], []}], [{xmlcdata}], [{xmlcdata, <<"x">>, 1}],
                            [sic1(), {bogus}], [sic1(), 42], [#{}],
                            A(not_a_list), A([{<<"xmlns">>, ?NS1} | tail]), A([{<<"a">>}]),
                            A([{a, <<"b">>}]), A([{<<"a">>, b}]), A([{<<"a">>, "b"}]),
                            A([{<<"a">>, <<"b">>, <<"c">>}]), A([x]),
                            C(not_a_list), C([{xmlcdata, <<>>} | tail]), C([{foo}]), C([<<"text">>]),
                            C([{xmlcdata, "text"}]), C([{xmlel, <<"a">>, []}]), C([x])]] ++
        [Bad(3, S) || S <- ["alice@example.org", undefined, 1, [<<"a@b">>]]] ++
        [Bad(4, T) || T <- [none, "example.org", 1, [<<"x">>]]] ++
        [Bad(5, P) || P <- bad_peers()] ++
        [Bad(6, T) || T <- [tcp, <<"stream">>, 0, undefined]] ++
        [Bad(7, S) || S <- [proxy, <<"socket">>, 0, undefined]] ++
        [Bad(8, F) || F <- bad_flags()].

bad_peers() ->
    [none, {192, 0, 2, 1}, {{192, 0, 2, 1}}, {{192, 0, 2, 1}, 1, 2}, {{192, 0, 2}, 1},
     {{192, 0, 2, 1, 5}, 1}, {{256, 0, 0, 1}, 1}, {{-1, 0, 0, 1}, 1}, {{192, 0, 2, 1}, 65536},
     {{192, 0, 2, 1}, -1}, {{192, 0, 2, 1}, port}, {{1.0, 0, 0, 1}, 1}, {"192.0.2.1", 1},
     {{0, 0, 0, 0, 0, 0, 0, 65536}, 1}, {{0, 0, 0, 0, 0, 0, 0, -1}, 1}, {{0, 0, 0, 0, 0, 0, 0}, 1},
     {{192, 0, 2, 1}, 1 bsl 70}, [{192, 0, 2, 1}, 1], {local, <<"/run/x.sock">>}].

bad_flags() ->
    [omit_port, [bogus], [omit_port | no_sic0], [<<"omit_port">>], [omit_port, "no_sic0"], #{}].

%% Random terms, some of them almost right: the NIF answers or raises
%% badarg, never anything else, and the VM survives.
random_terms_test() ->
    rand:seed(exsss, {5, 7, 9}),
    Outcomes = [outcome(fun() -> call(random_subels()) end) || _ <- lists:seq(1, 20000)],
    ?assertEqual([], [O || O <- Outcomes, O =/= answer, O =/= badarg]),
    %% Both kinds occur, or the generator tested nothing.
    ?assert(lists:member(answer, Outcomes) andalso lists:member(badarg, Outcomes)).

outcome(Fun) ->
    try Fun() of
        {result, _, _, _} -> answer;
        {error, _, _, _} -> answer;
        pass -> answer;
        Other -> {unexpected, Other}
    catch
        error:badarg -> badarg;
        Class:Reason -> {Class, Reason}
    end.

random_subels() -> random_list(fun random_node/0).

random_list(Gen) ->
    Items = [Gen() || _ <- lists:seq(1, rand:uniform(3) - 1)],
    case rand:uniform(10) of
        1 -> Items ++ pick([x, <<"y">>]);
        _ -> Items
    end.

random_node() ->
    pick([{xmlel, pick([<<"address">>, <<"ip">>, address, "ip"]),
           random_list(fun random_attr/0), random_list(fun random_child/0)},
          {xmlcdata, pick([<<" ">>, <<"x">>, "x"])},
          {xmlel, <<"address">>, []},
          sic1(), 42]).

random_attr() ->
    pick([{<<"xmlns">>, pick([?NS0, ?NS1, <<"x">>])}, {<<"a">>, <<"b">>}, {a, <<"b">>}, {<<"a">>}]).

random_child() ->
    pick([{xmlcdata, pick([<<" ">>, <<"x">>, x])}, {xmlel, <<"a">>, [], []}, {xmlel, 1, 2, 3}, {xmlel}]).

pick(Xs) -> lists:nth(rand:uniform(length(Xs)), Xs).

%%% Agreement with the library's own parser

%% The same requests as text, through handle_iq/5, and as ejabberd's
%% stream parser hands them over, through handle_parsed/8: the same answer.
agreement_test_() ->
    Payloads = [<<"<address xmlns='urn:xmpp:sic:1'/>">>,
                <<"<ip xmlns='urn:xmpp:sic:0'/>">>,
                <<"<address xmlns='urn:xmpp:sic:0'/>">>,
                <<"<s:address xmlns:s='urn:xmpp:sic:1'/>">>,
                <<"<address xmlns='urn:xmpp:sic:1' a='1'/>">>,
                <<"<address xmlns='urn:xmpp:sic:1'> </address>">>,
                <<"<address xmlns='urn:xmpp:sic:1'>x</address>">>,
                <<"<address xmlns='urn:xmpp:sic:1'><ip/></address>">>,
                <<"<address xmlns='urn:xmpp:sic:1'/><x/>">>,
                <<"<address xmlns='urn:xmpp:sic:1'/> x ">>,
                <<"<query xmlns='jabber:iq:version'/>">>,
                <<"<query xmlns='urn:xmpp:sic:1'/>">>,
                <<>>],
    Requests = [{Type, Payload, Target, Peer, Flags}
                || Type <- [<<"get">>, <<"set">>, <<"result">>, <<"bogus">>],
                   Payload <- Payloads,
                   Target <- [undefined, <<"alice@example.org">>, <<"example.org">>,
                              <<"bob@example.org">>],
                   Peer <- [?PEER4, {{0, 0, 0, 0, 0, 16#ffff, 16#7f00, 1}, 0}, undefined],
                   Flags <- [[], [omit_port, no_sic0]]],
    {timeout, 60, ?_assertEqual([], [R || R <- Requests, not agree(R)])}.

agree({Type, Payload, Target, Peer, Flags}) ->
    Text = <<"<iq type='", Type/binary, "' id='x'>", Payload/binary, "</iq>">>,
    Raw = xmpp_sic:handle_iq(Text, ?SENDER, Target, Peer, Flags),
    {xmlel, <<"iq">>, _, SubEls} = stream_parse(Text),
    Parsed = xmpp_sic:handle_parsed(binary_to_atom(Type, utf8), SubEls, ?SENDER, Target, Peer,
                                    stream, socket, Flags),
    same_answer(Raw, Parsed).

same_answer(pass, pass) ->
    true;
same_answer({ok, Reply}, Answer) ->
    {xmlel, <<"iq">>, Attrs, Children} = fxml_stream:parse_element(Reply),
    case {proplists:get_value(<<"type">>, Attrs), Answer} of
        {<<"result">>, {result, Form, IP, Port}} ->
            Children =:= [payload(Form, IP, Port)];
        {<<"error">>, {error, Type, Condition, Text}} ->
            [{xmlel, <<"error">>, ErrAttrs, [{xmlel, Cond, _, []}, {xmlel, <<"text">>, _, [{xmlcdata, T}]}]}]
                = Children,
            {atom_to_binary(Type, utf8), atom_to_binary(Condition, utf8), Text}
                =:= {proplists:get_value(<<"type">>, ErrAttrs), Cond, T};
        _ ->
            false
    end;
same_answer(_, _) ->
    false.

%% What mod_xmpp_sic builds from an answer.
payload(sic0_ip, IP, undefined) ->
    el(<<"ip">>, ?NS0, [{xmlcdata, IP}]);
payload(sic0_address, IP, undefined) ->
    el(<<"address">>, ?NS0, [{xmlel, <<"ip">>, [], [{xmlcdata, IP}]}]);
payload(sic1_address, IP, Port) ->
    el(<<"address">>, ?NS1,
       [{xmlel, <<"ip">>, [], [{xmlcdata, IP}]} |
        [{xmlel, <<"port">>, [], [{xmlcdata, integer_to_binary(Port)}]} || Port =/= undefined]]).

%% ejabberd's c2s parses with a stream parser, which resolves prefixes.
stream_parse(Stanza) ->
    Parser = fxml_stream:new(self(), infinity, [no_gen_server]),
    Header = <<"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>">>,
    Done = fxml_stream:parse(fxml_stream:parse(Parser, Header), Stanza),
    fxml_stream:close(Done),
    receive {xmlstreamstart, _, _} -> ok after 1000 -> error(no_stream_start) end,
    receive {xmlstreamelement, El} -> El after 1000 -> error(no_element) end.

%%% handle_iq/5: the raw entry

handle_iq_test_() ->
    Get = <<"<iq type='get' id='a&#10;b'><address xmlns='urn:xmpp:sic:1'/></iq>">>,
    [?_assertMatch({ok, _}, xmpp_sic:handle_iq(Get, ?SENDER, undefined, ?PEER4, [])),
     ?_assertEqual(<<"a\nb">>,
                   begin
                       {ok, R} = xmpp_sic:handle_iq(Get, ?SENDER, undefined, ?PEER4, []),
                       fxml:get_tag_attr_s(<<"id">>, fxml_stream:parse_element(R))
                   end),
     ?_assertEqual(xmpp_sic:handle_iq(Get, ?SENDER, undefined, ?PEER4, []),
                   xmpp_sic:handle_iq([<<"<iq type='get' ">>, "id='a&#10;b'>" |
                                       [<<"<address xmlns='urn:xmpp:sic:1'/>">>, <<"</iq>">>]],
                                      ?SENDER, undefined, ?PEER4, [])),
     ?_assertEqual(pass, xmpp_sic:handle_iq(<<"<iq type='result' id='r'/>">>, ?SENDER, undefined,
                                            ?PEER4, [])),
     ?_assertEqual({error, malformed_stanza},
                   xmpp_sic:handle_iq(<<"<iq">>, ?SENDER, undefined, ?PEER4, [])),
     ?_assertEqual({error, invalid_argument},
                   xmpp_sic:handle_iq(Get, <<"@x">>, undefined, ?PEER4, [])),
     ?_assertEqual({error, invalid_argument},
                   xmpp_sic:handle_iq(Get, binary:copy(<<"a">>, 5000), undefined, ?PEER4, []))] ++
        [?_assertError(badarg, apply(xmpp_sic, handle_iq, Args))
         || Args <- [[atom, ?SENDER, undefined, ?PEER4, []],
                     [[256], ?SENDER, undefined, ?PEER4, []],
                     [Get, "alice@example.org", undefined, ?PEER4, []],
                     [Get, ?SENDER, none, ?PEER4, []],
                     [Get, ?SENDER, undefined, {{300, 0, 0, 1}, 1}, []],
                     [Get, ?SENDER, undefined, ?PEER4, [x]]]].

%%% The rest of the module

%% The test build of the library panics on this id; the NIF maps it.
probe_setup() ->
    try xmpp_sic_probe:abi_version() of
        _ -> ok
    catch
        error:nif_not_loaded -> ok = xmpp_sic_test_nif:load(xmpp_sic_probe, "xmpp_sic_probe")
    end.

panic_is_an_error_test() ->
    probe_setup(),
    ?assertEqual({error, panic},
                 xmpp_sic_probe:handle_iq(<<"<iq type='get' id='xmpp-sic:panic'>"
                                            "<address xmlns='urn:xmpp:sic:1'/></iq>">>,
                                          ?SENDER, undefined, ?PEER4, [])),
    ?assertEqual(result1(), xmpp_sic_probe:handle_parts(get, <<"address">>, ?NS1, [], ?SENDER,
                                                        undefined, ?PEER4, stream, socket, [])).

abi_mismatch_refuses_to_load_test() ->
    ?assertMatch({error, {load, _}}, xmpp_sic_test_nif:load(xmpp_sic_abi_skew, "xmpp_sic_abi_skew")).

abi_and_version_test() ->
    ?assertEqual(1, xmpp_sic:abi_version()),
    ?assertMatch(<<_, _/binary>>, xmpp_sic:version()).

features_test_() ->
    [?_assertEqual(lists:sort([?NS0, ?NS1]), lists:sort(xmpp_sic:features([]))),
     ?_assertEqual(lists:sort([?NS0, ?NS1]), lists:sort(xmpp_sic:features([omit_port, keep_v4_mapped]))),
     ?_assertEqual([?NS1], xmpp_sic:features([no_sic0]))] ++
        [?_assertError(badarg, xmpp_sic:features(F)) || F <- bad_flags()].

%% Every process asks with its own port and address, so an answer crossing
%% over to another caller cannot go unnoticed.
concurrent_callers_test_() ->
    {timeout, 120,
     fun() ->
             Parent = self(),
             Pids = [spawn_link(fun() -> Parent ! {self(), caller(P, 5000)} end) || P <- lists:seq(1, 50)],
             ?assertEqual(lists:duplicate(50, 5000),
                          [receive {Pid, R} -> R after 100000 -> timeout end || Pid <- Pids])
     end}.

caller(P, Calls) ->
    Peer = {{10, 0, P div 256, P rem 256}, 1000 + P},
    Want = {result, sic1_address, iolist_to_binary(io_lib:format("10.0.~b.~b", [P div 256, P rem 256])),
            1000 + P},
    length([ok || _ <- lists:seq(1, Calls), call(get, [sic1()], undefined, Peer) =:= Want]).

%% Prints the figures for README; asserts nothing on time.
nif_call_time_test_() ->
    {timeout, 120,
     fun() ->
             [io:format(user, "~n    ~-66s ~9.3f us/call", [L, Us]) || {L, Us} <- xmpp_sic_bench:run()],
             io:format(user, "~n", [])
     end}.
