%%% EUnit tests of the xmpp_sic NIF. Replies are checked by parsing them
%%% with xmerl, never by searching the text.
-module(xmpp_sic_tests).

-include_lib("eunit/include/eunit.hrl").
-include_lib("xmerl/include/xmerl.hrl").

-define(SENDER, <<"alice@example.org/phone">>).
-define(PEER4, {{192, 0, 2, 1}, 5222}).
-define(NS0, <<"urn:xmpp:sic:0">>).
-define(NS1, <<"urn:xmpp:sic:1">>).
-define(STANZAS, <<"urn:ietf:params:xml:ns:xmpp-stanzas">>).

%%% Helpers

iq(Type, Id, Payload) ->
    <<"<iq type='", Type/binary, "' id='", Id/binary, "'>", Payload/binary, "</iq>">>.

sic1() -> <<"<address xmlns='urn:xmpp:sic:1'/>">>.
sic0_ip() -> <<"<ip xmlns='urn:xmpp:sic:0'/>">>.
sic0_address() -> <<"<address xmlns='urn:xmpp:sic:0'/>">>.

get1() -> iq(<<"get">>, <<"q1">>, sic1()).

call(Iq, Target, Peer, Flags) ->
    xmpp_sic:handle_iq(Iq, ?SENDER, Target, Peer, Flags).

%% An element as {Name, Attrs, Children}: attributes sorted, names and text
%% as binaries, adjacent text joined.
parse(Bin) when is_binary(Bin) ->
    {Doc, []} = xmerl_scan:string(binary_to_list(Bin), [{quiet, true}]),
    simplify(Doc).

simplify(#xmlElement{name = Name, attributes = Attrs, content = Content}) ->
    {atom_to_binary(Name, utf8),
     lists:sort([{atom_to_binary(N, utf8), unicode:characters_to_binary(V)}
                 || #xmlAttribute{name = N, value = V} <- Attrs]),
     join_text([simplify(C) || C <- Content])};
simplify(#xmlText{value = V}) ->
    {text, unicode:characters_to_binary(V)}.

join_text([{text, A}, {text, B} | Rest]) -> join_text([{text, <<A/binary, B/binary>>} | Rest]);
join_text([X | Rest]) -> [X | join_text(Rest)];
join_text([]) -> [].

%% The reply as {Type, Attrs, Children} after checking it is an <iq/>.
reply({ok, Bin}) ->
    {<<"iq">>, Attrs, Children} = parse(Bin),
    {proplists:get_value(<<"type">>, Attrs), Attrs, Children}.

%% The <ip/> and <port/> texts of a sic:1 or sic:0 <address/> result, in
%% document order.
address_fields(Reply, Ns) ->
    {<<"result">>, _, [{<<"address">>, [{<<"xmlns">>, Ns}], Fields}]} = reply(Reply),
    [{Name, Text} || {Name, [], [{text, Text}]} <- Fields].

stanza_error(Reply) ->
    {<<"error">>, _, [{<<"error">>, [{<<"type">>, Type}], Children}]} = reply(Reply),
    [{Condition, [{<<"xmlns">>, ?STANZAS}], []}, {<<"text">>, TextAttrs, [{text, _}]}] = Children,
    ?assertEqual(?STANZAS, proplists:get_value(<<"xmlns">>, TextAttrs)),
    {Type, Condition}.

%%% Results

sic1_ipv4_test() ->
    R = call(get1(), undefined, ?PEER4, []),
    ?assertEqual([{<<"ip">>, <<"192.0.2.1">>}, {<<"port">>, <<"5222">>}], address_fields(R, ?NS1)),
    {_, Attrs, _} = reply(R),
    ?assertEqual(<<"q1">>, proplists:get_value(<<"id">>, Attrs)),
    ?assertEqual(?SENDER, proplists:get_value(<<"to">>, Attrs)),
    ?assertEqual(undefined, proplists:get_value(<<"from">>, Attrs)).

sic1_ipv6_test() ->
    R = call(get1(), undefined, {{16#2001, 16#db8, 0, 0, 0, 0, 0, 1}, 443}, []),
    ?assertEqual([{<<"ip">>, <<"2001:db8::1">>}, {<<"port">>, <<"443">>}], address_fields(R, ?NS1)).

ipv6_loopback_test() ->
    R = call(get1(), undefined, {{0, 0, 0, 0, 0, 0, 0, 1}, 40000}, []),
    ?assertEqual([{<<"ip">>, <<"::1">>}, {<<"port">>, <<"40000">>}], address_fields(R, ?NS1)).

v4_mapped_is_unmapped_test() ->
    R = call(get1(), undefined, {{0, 0, 0, 0, 0, 16#ffff, 16#7f00, 1}, 1234}, []),
    ?assertEqual([{<<"ip">>, <<"127.0.0.1">>}, {<<"port">>, <<"1234">>}], address_fields(R, ?NS1)).

keep_v4_mapped_test() ->
    R = call(get1(), undefined, {{0, 0, 0, 0, 0, 16#ffff, 16#7f00, 1}, 1234}, [keep_v4_mapped]),
    ?assertEqual([{<<"ip">>, <<"::ffff:127.0.0.1">>}, {<<"port">>, <<"1234">>}],
                 address_fields(R, ?NS1)).

omit_port_test() ->
    R = call(get1(), undefined, ?PEER4, [omit_port]),
    ?assertEqual([{<<"ip">>, <<"192.0.2.1">>}], address_fields(R, ?NS1)).

port_zero_is_not_reported_test() ->
    R = call(get1(), undefined, {{192, 0, 2, 1}, 0}, []),
    ?assertEqual([{<<"ip">>, <<"192.0.2.1">>}], address_fields(R, ?NS1)).

sic0_ip_form_test() ->
    R = call(iq(<<"get">>, <<"s0">>, sic0_ip()), undefined, ?PEER4, []),
    ?assertMatch({<<"result">>, _, [{<<"ip">>, [{<<"xmlns">>, ?NS0}], [{text, <<"192.0.2.1">>}]}]},
                 reply(R)).

sic0_address_form_has_no_port_test() ->
    R = call(iq(<<"get">>, <<"s0">>, sic0_address()), undefined, ?PEER4, []),
    ?assertEqual([{<<"ip">>, <<"192.0.2.1">>}], address_fields(R, ?NS0)).

own_bare_jid_and_domain_are_answered_test() ->
    lists:foreach(
      fun(Target) ->
              R = call(get1(), Target, ?PEER4, []),
              ?assertEqual([{<<"ip">>, <<"192.0.2.1">>}, {<<"port">>, <<"5222">>}],
                           address_fields(R, ?NS1)),
              {_, Attrs, _} = reply(R),
              ?assertEqual(Target, proplists:get_value(<<"from">>, Attrs))
      end, [<<"alice@example.org">>, <<"example.org">>]).

stanza_namespace_is_echoed_test() ->
    Iq = <<"<iq xmlns='jabber:client' type='get' id='n'><address xmlns='urn:xmpp:sic:1'/></iq>">>,
    {_, Attrs, _} = reply(call(Iq, undefined, ?PEER4, [])),
    ?assertEqual(<<"jabber:client">>, proplists:get_value(<<"xmlns">>, Attrs)).

id_survives_escaping_test() ->
    %% The id decodes to  a&<"'b  followed by U+00E9 and a line feed.
    Iq = iq(<<"get">>, <<"a&amp;&lt;&quot;&apos;b&#xE9;&#10;">>, sic1()),
    {_, Attrs, _} = reply(call(Iq, undefined, ?PEER4, [])),
    ?assertEqual(<<"a&<\"'b", 16#c3, 16#a9, "\n">>, proplists:get_value(<<"id">>, Attrs)).

%%% XMPP errors: successful calls whose reply is an error stanza

other_user_is_forbidden_test() ->
    ?assertEqual({<<"auth">>, <<"forbidden">>},
                 stanza_error(call(get1(), <<"bob@example.org">>, ?PEER4, []))).

other_domain_is_forbidden_test() ->
    ?assertEqual({<<"auth">>, <<"forbidden">>},
                 stanza_error(call(get1(), <<"example.net">>, ?PEER4, []))).

set_is_not_allowed_test() ->
    ?assertEqual({<<"cancel">>, <<"not-allowed">>},
                 stanza_error(call(iq(<<"set">>, <<"s">>, sic1()), undefined, ?PEER4, []))).

payload_with_content_is_bad_request_test() ->
    Iq = iq(<<"get">>, <<"c">>, <<"<address xmlns='urn:xmpp:sic:1'><ip>1.2.3.4</ip></address>">>),
    ?assertEqual({<<"modify">>, <<"bad-request">>}, stanza_error(call(Iq, undefined, ?PEER4, []))).

unknown_peer_is_service_unavailable_test() ->
    ?assertEqual({<<"cancel">>, <<"service-unavailable">>},
                 stanza_error(call(get1(), undefined, undefined, []))).

%%% Statuses other than a reply

pass_test_() ->
    [?_assertEqual(pass, call(iq(<<"get">>, <<"v">>, <<"<query xmlns='jabber:iq:version'/>">>),
                              undefined, ?PEER4, [])),
     ?_assertEqual(pass, call(iq(<<"result">>, <<"r">>, sic1()), undefined, ?PEER4, [])),
     ?_assertEqual(pass, call(iq(<<"error">>, <<"r">>, sic1()), undefined, ?PEER4, [])),
     ?_assertEqual(pass, call(iq(<<"get">>, <<"e">>, <<>>), undefined, ?PEER4, [])),
     ?_assertEqual(pass, xmpp_sic:handle_iq_el(iq(<<"result">>, <<"r">>, sic1()), ?SENDER,
                                               undefined, ?PEER4, []))].

no_sic0_passes_sic0_only_test() ->
    ?assertEqual(pass, call(iq(<<"get">>, <<"a">>, sic0_ip()), undefined, ?PEER4, [no_sic0])),
    ?assertEqual(pass, call(iq(<<"get">>, <<"b">>, sic0_address()), undefined, ?PEER4, [no_sic0])),
    ?assertEqual([{<<"ip">>, <<"192.0.2.1">>}, {<<"port">>, <<"5222">>}],
                 address_fields(call(get1(), undefined, ?PEER4, [no_sic0]), ?NS1)).

malformed_stanza_test_() ->
    Huge = xmpp_sic_bench:stanza_of(70000),
    [?_assertEqual({error, malformed_stanza}, call(Bad, undefined, ?PEER4, []))
     || Bad <- [<<>>, <<"<iq">>, <<"not xml">>,
                <<"<iq type='get'><address xmlns='urn:xmpp:sic:1'/></iq>">>,
                <<"<iq id='x'><address xmlns='urn:xmpp:sic:1'/></iq>">>,
                <<(get1())/binary, (get1())/binary>>,
                <<"<!DOCTYPE iq><iq type='get' id='x'/>">>,
                iq(<<"get">>, <<"a&bogus;">>, sic1()),
                Huge]] ++
        [?_assertEqual({error, malformed_stanza},
                       xmpp_sic:handle_iq_el(<<"<iq">>, ?SENDER, undefined, ?PEER4, []))].

invalid_argument_test_() ->
    TooLong = binary:copy(<<"a">>, 4000),
    [?_assertEqual({error, invalid_argument},
                   xmpp_sic:handle_iq(get1(), Sender, undefined, ?PEER4, []))
     || Sender <- [<<>>, <<"@example.org">>, <<"alice@">>, <<255, 254>>,
                   <<TooLong/binary, "@example.org">>]] ++
        [?_assertEqual({error, invalid_argument},
                       xmpp_sic:handle_iq(get1(), ?SENDER, Target, ?PEER4, []))
         || Target <- [<<"bob@">>, <<"a@b@c">>, <<"example.org/", TooLong/binary>>]] ++
        [?_assertEqual({error, invalid_argument},
                       xmpp_sic:handle_iq_el(get1(), <<"@x">>, undefined, ?PEER4, []))].

%% The test build reaches the statuses the real entry points never provoke.
probe_setup() ->
    try xmpp_sic_probe:abi_version() of
        _ -> ok
    catch
        error:nif_not_loaded -> ok = xmpp_sic_test_nif:load(xmpp_sic_probe, "xmpp_sic_probe")
    end.

probe_statuses_test_() ->
    {setup, fun probe_setup/0,
     [?_assertEqual({error, panic},
                    xmpp_sic_probe:handle_iq(iq(<<"get">>, <<"xmpp-sic:panic">>, sic1()),
                                             ?SENDER, undefined, ?PEER4, [])),
      ?_assertEqual({error, panic},
                    xmpp_sic_probe:handle_iq_el(iq(<<"get">>, <<"xmpp-sic:panic">>, sic1()),
                                                ?SENDER, undefined, ?PEER4, [])),
      ?_assertEqual({error, buffer_too_small},
                    xmpp_sic_probe:handle_iq_cap(get1(), ?SENDER, undefined, ?PEER4, [], 0)),
      ?_assertEqual({error, buffer_too_small},
                    xmpp_sic_probe:handle_iq_cap(get1(), ?SENDER, undefined, ?PEER4, [], 20)),
      ?_assertEqual({error, null_argument},
                    xmpp_sic_probe:handle_iq_cap(get1(), ?SENDER, undefined, ?PEER4, [], null)),
      ?_test(begin
                 {ok, Exact} = xmpp_sic:handle_iq(get1(), ?SENDER, undefined, ?PEER4, []),
                 ?assertEqual({ok, Exact},
                              xmpp_sic_probe:handle_iq_cap(get1(), ?SENDER, undefined, ?PEER4, [],
                                                           byte_size(Exact))),
                 ?assertEqual({error, buffer_too_small},
                              xmpp_sic_probe:handle_iq_cap(get1(), ?SENDER, undefined, ?PEER4, [],
                                                           byte_size(Exact) - 1))
             end)]}.

abi_mismatch_refuses_to_load_test() ->
    ?assertMatch({error, {load, _}},
                 xmpp_sic_test_nif:load(xmpp_sic_abi_skew, "xmpp_sic_abi_skew")).

abi_and_version_test() ->
    ?assertEqual(1, xmpp_sic:abi_version()),
    ?assertMatch(<<_, _/binary>>, xmpp_sic:version()).

%% Error paths release their binary: repeating them must not grow the
%% binary heap. The panic path is repeated less, since every caught panic
%% prints the panic message on stderr.
no_binary_leak_on_error_paths_test_() ->
    {timeout, 60,
     fun() ->
             probe_setup(),
             Calls = [fun() -> pass = call(iq(<<"result">>, <<"r">>, sic1()), undefined, ?PEER4, []) end,
                      fun() -> {error, malformed_stanza} = call(<<"<iq">>, undefined, ?PEER4, []) end,
                      fun() -> {error, invalid_argument} =
                                   xmpp_sic:handle_iq(get1(), <<"@x">>, undefined, ?PEER4, []) end,
                      fun() -> {error, buffer_too_small} =
                                   xmpp_sic_probe:handle_iq_cap(get1(), ?SENDER, undefined, ?PEER4, [], 8) end,
                      fun() -> {error, null_argument} =
                                   xmpp_sic_probe:handle_iq_cap(get1(), ?SENDER, undefined, ?PEER4, [], null) end],
             Panic = fun() -> {error, panic} =
                                  xmpp_sic_probe:handle_iq(iq(<<"get">>, <<"xmpp-sic:panic">>, sic1()),
                                                           ?SENDER, undefined, ?PEER4, []) end,
             Round = fun() -> [C() || C <- Calls], ok end,
             Round(),
             Panic(),
             Before = erlang:memory(binary),
             [Round() || _ <- lists:seq(1, 20000)],
             [Panic() || _ <- lists:seq(1, 200)],
             ?assert(erlang:memory(binary) - Before < 1000000)
     end}.

%%% The reply as an #xmlel{} term

%% fast_xml, which ejabberd uses, is the reference for what the term must be.
xmlel_matches_fast_xml_test_() ->
    Requests =
        [{get1(), undefined, ?PEER4, []},
         {get1(), <<"example.org">>, {{16#2001, 16#db8, 0, 0, 0, 0, 0, 1}, 443}, []},
         {iq(<<"get">>, <<"s0">>, sic0_ip()), undefined, ?PEER4, []},
         {iq(<<"get">>, <<"s0">>, sic0_address()), undefined, ?PEER4, []},
         {iq(<<"get">>, <<"a&amp;&lt;&quot;&apos;b&#xE9;&#10;&#x1F600;">>, sic1()), undefined, ?PEER4, []},
         {get1(), <<"bob@example.org">>, ?PEER4, []},
         {iq(<<"set">>, <<"s">>, sic1()), undefined, ?PEER4, []},
         {get1(), undefined, undefined, []},
         {<<"<iq xmlns='jabber:client' type='get' id='n'><address xmlns='urn:xmpp:sic:1'/></iq>">>,
          undefined, ?PEER4, []}],
    [?_test(begin
                {ok, Text} = xmpp_sic:handle_iq(Iq, <<"alice@example.org/<r'&\">">>, T, P, F),
                ?assertEqual({ok, fxml_stream:parse_element(Text)},
                             xmpp_sic:handle_iq_el(Iq, <<"alice@example.org/<r'&\">">>, T, P, F))
            end) || {Iq, T, P, F} <- Requests].

%% Random ids and resources full of characters that need escaping: the
%% term built in C must always equal fast_xml's parse of the reply text.
xmlel_matches_fast_xml_on_random_input_test() ->
    rand:seed(exsss, {7, 11, 13}),
    lists:foreach(
      fun(_) ->
              Id = random_text(rand:uniform(40), id_alphabet()),
              %% A resource may hold no control characters, nor code points
              %% that stringprep (ejabberd and the library alike) leaves
              %% unassigned, such as emoji.
              Resource = random_text(rand:uniform(20), resource_alphabet()),
              Sender = <<"alice@example.org/r", Resource/binary>>,
              Iq = iq(<<"get">>, escape_attr(Id), sic1()),
              {ok, Text} = xmpp_sic:handle_iq(Iq, Sender, undefined, ?PEER4, []),
              {ok, El} = xmpp_sic:handle_iq_el(Iq, Sender, undefined, ?PEER4, []),
              ?assertEqual(fxml_stream:parse_element(Text), El),
              {xmlel, <<"iq">>, Attrs, _} = El,
              ?assertEqual(Id, proplists:get_value(<<"id">>, Attrs)),
              ?assertEqual(Sender, proplists:get_value(<<"to">>, Attrs))
      end, lists:seq(1, 2000)).

id_alphabet() -> [$\t, $\n, $\r, $\s, 16#1f600 | resource_alphabet()].
resource_alphabet() -> [$a, $Z, $0, $&, $<, $>, $', $", $;, $#, 16#e9, 16#20ac].

random_text(Len, Alphabet) ->
    unicode:characters_to_binary(
      [lists:nth(rand:uniform(length(Alphabet)), Alphabet) || _ <- lists:seq(1, Len)]).

escape_attr(Text) ->
    iolist_to_binary([case C of
                          $& -> "&amp;"; $< -> "&lt;"; $> -> "&gt;"; $' -> "&apos;"; $" -> "&quot;";
                          $\t -> "&#9;"; $\n -> "&#10;"; $\r -> "&#13;";
                          _ -> <<C/utf8>>
                      end || C <- unicode:characters_to_list(Text)]).

%% The reply parser only ever sees the library's output, but must not
%% misbehave on anything else: mutated replies either fail to parse or give
%% what fast_xml gives. (Under ASan, run-tests.sh also checks its memory
%% accesses.)
reply_parser_on_mutated_replies_test_() ->
    {timeout, 120,
     fun() ->
             probe_setup(),
             rand:seed(exsss, {3, 5, 8}),
             Seeds = [Text || {Iq, T, P} <- [{get1(), undefined, ?PEER4},
                                             {iq(<<"get">>, <<"a&amp;b&#10;&#xE9;">>, sic0_ip()),
                                              <<"example.org">>, ?PEER4},
                                             {get1(), <<"bob@example.org">>, ?PEER4},
                                             {get1(), undefined, undefined}],
                              {ok, Text} <- [xmpp_sic:handle_iq(Iq, ?SENDER, T, P, [])]],
             Pieces = [<<"<">>, <<">">>, <<"/">>, <<"&">>, <<";">>, <<"'">>, <<"\"">>, <<"=">>,
                       <<"&#">>, <<"&#x">>, <<"&amp;">>, <<"&#0;">>, <<"&#xD800;">>,
                       <<"&#x110000;">>, <<"&#99999999999;">>, <<"\r\n">>, <<" ">>, <<"\t">>,
                       <<"<a>">>, <<"</a>">>, <<"<b/>">>, <<"x:y">>, <<0>>, <<255>>],
             Agreed = lists:foldl(
                        fun(_, N) ->
                                Seed = lists:nth(rand:uniform(length(Seeds)), Seeds),
                                Text = mutate(Seed, Pieces, rand:uniform(3)),
                                case xmpp_sic_probe:parse_reply(Text) of
                                    error ->
                                        N;
                                    {ok, El} ->
                                        case catch fxml_stream:parse_element(Text) of
                                            {xmlel, _, _, _} = Ref ->
                                                ?assertEqual({Text, Ref}, {Text, El}),
                                                N + 1;
                                            _ ->
                                                N
                                        end
                                end
                        end, 0, lists:seq(1, 20000)),
             %% Some mutations must still be valid XML, or nothing was compared.
             ?assert(Agreed > 100)
     end}.

mutate(Text, _Pieces, 0) ->
    Text;
mutate(Text, Pieces, N) ->
    At = rand:uniform(byte_size(Text) + 1) - 1,
    <<Before:At/binary, After/binary>> = Text,
    Mutated = case rand:uniform(3) of
                  1 -> <<Before/binary, (lists:nth(rand:uniform(length(Pieces)), Pieces))/binary,
                         After/binary>>;
                  2 -> <<Before/binary, (drop(After, rand:uniform(4)))/binary>>;
                  3 -> Before
              end,
    mutate(Mutated, Pieces, N - 1).

drop(Bin, N) when byte_size(Bin) =< N -> <<>>;
drop(Bin, N) -> binary:part(Bin, N, byte_size(Bin) - N).

large_stanza_test() ->
    Iq = xmpp_sic_bench:stanza_of(65000),
    {ok, Text} = call(Iq, undefined, ?PEER4, []),
    ?assertEqual({ok, fxml_stream:parse_element(Text)},
                 xmpp_sic:handle_iq_el(Iq, ?SENDER, undefined, ?PEER4, [])),
    {<<"result">>, Attrs, _} = reply({ok, Text}),
    ?assertEqual(binary:copy(<<"&">>, (65000 - 59) div 5), proplists:get_value(<<"id">>, Attrs)).

%%% Input forms

iodata_input_test() ->
    Flat = call(get1(), undefined, ?PEER4, []),
    Deep = [<<"<iq type='get'">>, " id=", [$', [<<"q">>], $1, $'], $> |
            [[<<"<address xmlns='urn:xmpp:sic:1'/>">>] | <<"</iq>">>]],
    ?assertEqual(Flat, call(Deep, undefined, ?PEER4, [])),
    ?assertEqual(Flat, call(binary_to_list(get1()), undefined, ?PEER4, [])),
    ?assertEqual(xmpp_sic:handle_iq_el(get1(), ?SENDER, undefined, ?PEER4, []),
                 xmpp_sic:handle_iq_el(Deep, ?SENDER, undefined, ?PEER4, [])).

empty_target_means_none_test() ->
    ?assertEqual(call(get1(), undefined, ?PEER4, []), call(get1(), <<>>, ?PEER4, [])).

badarg_test_() ->
    Iq = get1(),
    Bad = fun(Args) -> ?_assertError(badarg, apply(xmpp_sic, handle_iq, Args)) end,
    BadEl = fun(Args) -> ?_assertError(badarg, apply(xmpp_sic, handle_iq_el, Args)) end,
    [Bad([BadIq, ?SENDER, undefined, ?PEER4, []])
     || BadIq <- [atom, 42, [256], [-1], [<<"a">> | b], {<<"x">>}, #{}]] ++
        [Bad([Iq, S, undefined, ?PEER4, []]) || S <- ["alice@example.org", undefined, 1, [<<"a@b">>]]] ++
        [Bad([Iq, ?SENDER, T, ?PEER4, []]) || T <- [none, "example.org", 1, [<<"x">>]]] ++
        [Bad([Iq, ?SENDER, undefined, P, []])
         || P <- [none, {192, 0, 2, 1}, {{192, 0, 2, 1}}, {{192, 0, 2, 1}, 1, 2},
                  {{192, 0, 2}, 1}, {{192, 0, 2, 1, 5}, 1}, {{256, 0, 0, 1}, 1},
                  {{-1, 0, 0, 1}, 1}, {{192, 0, 2, 1}, 65536}, {{192, 0, 2, 1}, -1},
                  {{192, 0, 2, 1}, port}, {{1.0, 0, 0, 1}, 1}, {"192.0.2.1", 1},
                  {{0, 0, 0, 0, 0, 0, 0, 65536}, 1}, {{0, 0, 0, 0, 0, 0, 0, -1}, 1},
                  {{0, 0, 0, 0, 0, 0, 0}, 1}, {{192, 0, 2, 1}, 1 bsl 70},
                  [{192, 0, 2, 1}, 1]]] ++
        [Bad([Iq, ?SENDER, undefined, ?PEER4, F])
         || F <- [omit_port, [bogus], [omit_port | no_sic0], [<<"omit_port">>],
                  [omit_port, "no_sic0"], #{}]] ++
        [BadEl([atom, ?SENDER, undefined, ?PEER4, []]),
         BadEl([Iq, ?SENDER, undefined, {{300, 0, 0, 1}, 1}, []]),
         BadEl([Iq, ?SENDER, undefined, ?PEER4, [x]]),
         ?_assertError(badarg, xmpp_sic:features([bogus])),
         ?_assertError(badarg, xmpp_sic:features([no_sic0 | omit_port])),
         ?_assertError(badarg, xmpp_sic:features(no_sic0))].

features_test() ->
    ?assertEqual(lists:sort([?NS0, ?NS1]), lists:sort(xmpp_sic:features([]))),
    ?assertEqual(lists:sort([?NS0, ?NS1]), lists:sort(xmpp_sic:features([omit_port, keep_v4_mapped]))),
    ?assertEqual([?NS1], xmpp_sic:features([no_sic0])).

%%% Concurrency and cost

%% Every process asks with its own id and port, so a reply crossing over to
%% another caller, or corrupted by a concurrent call, cannot go unnoticed.
concurrent_callers_test_() ->
    {timeout, 120,
     fun() ->
             Procs = 50,
             Calls = 2000,
             Parent = self(),
             Pids = [spawn_link(fun() -> Parent ! {self(), caller(P, Calls)} end)
                     || P <- lists:seq(1, Procs)],
             Results = [receive {Pid, R} -> R after 100000 -> timeout end || Pid <- Pids],
             ?assertEqual(lists:duplicate(Procs, Calls), Results)
     end}.

caller(P, Calls) ->
    Peer = {{10, 0, P div 256, P rem 256}, 1000 + P},
    Ip = iolist_to_binary(io_lib:format("10.0.~b.~b", [P div 256, P rem 256])),
    Port = integer_to_binary(1000 + P),
    Expected = fun(Id) ->
                       {xmlel, <<"iq">>,
                        [{<<"type">>, <<"result">>}, {<<"id">>, Id}, {<<"to">>, ?SENDER}],
                        [{xmlel, <<"address">>, [{<<"xmlns">>, ?NS1}],
                          [{xmlel, <<"ip">>, [], [{xmlcdata, Ip}]},
                           {xmlel, <<"port">>, [], [{xmlcdata, Port}]}]}]}
               end,
    length([ok || N <- lists:seq(1, Calls),
                  begin
                      Id = iolist_to_binary(io_lib:format("p~b-~b", [P, N])),
                      Iq = iq(<<"get">>, Id, sic1()),
                      case N rem 2 of
                          0 ->
                              {ok, Bin} = xmpp_sic:handle_iq(Iq, ?SENDER, undefined, Peer, []),
                              fxml_stream:parse_element(Bin) =:= Expected(Id);
                          1 ->
                              xmpp_sic:handle_iq_el(Iq, ?SENDER, undefined, Peer, [])
                                  =:= {ok, Expected(Id)}
                      end
                  end]).

%% A normal NIF must return well within 1 ms; print the figures for README.
nif_call_time_test_() ->
    {timeout, 120,
     fun() ->
             Figures = xmpp_sic_bench:run(),
             [io:format(user, "~n    ~-66s ~9.2f us/call", [L, Us]) || {L, Us} <- Figures],
             io:format(user, "~n", []),
             [{_, Small}, {_, SmallEl}, {_, Largest} | _] = Figures,
             ?assert(Small < 50),
             ?assert(SmallEl < 50),
             ?assert(Largest < 1000)
     end}.
