%%% Per-IQ cost of the Server IP Check handlers inside a running ejabberd
%%% node: ejabberd's mod_sic against mod_xmpp_sic, on the same sic:1
%%% request from a live session (the session lookup is part of both paths).
%%%
%%% Each path is what the sender's c2s process runs for the IQ that differs
%%% between the modules (mod_xmpp_sic's user_send_packet hook, which stamps
%%% the connection's address on the request), what gen_iq_handler runs
%%% (decode the payload, call the handler), and what the c2s process does
%%% with the reply before the socket (xmpp:encode/2 and
%%% fxml:element_to_binary/1). Stream parsing and routing are the same for
%%% all and left out. A last row is the hook's cost on a packet that is not
%%% a Server IP Check request: what the module adds to all other traffic.
%%%
%%% Two more rows start from the request's bytes, for the comparison with
%%% the library alone: ejabberd's whole own path (a long-lived fxml_stream
%%% parser fed the bytes, as a c2s connection's is; xmpp:decode; mod_sic's
%%% handler; xmpp:encode; fxml:element_to_binary) and xmpp_sic:handle_iq/5
%%% on the same bytes, given the address.
-module(mod_xmpp_sic_bench).

-export([run/2, run/3, process_iq_text/1, decode_iq_subel/1]).

-include("xmpp.hrl").

-define(REQUEST, <<"<iq xmlns='jabber:client' type='get' id='bench-1'>"
                   "<address xmlns='urn:xmpp:sic:1'/></iq>">>).

%% FullJid must have a session on this node. Returns, for each path, the
%% microseconds per IQ (median and minimum over Rounds rounds of N IQs) and
%% the path's reply. The paths take turns within every round, so a burst of
%% load from elsewhere on the machine hits all of them alike.
-spec run(binary(), pos_integer()) -> [{string(), float(), float(), binary()}].
run(FullJid, N) ->
    run(FullJid, N, 15).

%% The reply is <<>> for the last row, which has none.
-spec run(binary(), pos_integer(), pos_integer()) -> [{string(), float(), float(), binary()}].
run(FullJid, N, Rounds) ->
    From = jid:decode(FullJid),
    IQ0 = xmpp:decode(fxml_stream:parse_element(?REQUEST), ?NS_CLIENT, [ignore_els]),
    IQ = IQ0#iq{from = From, to = jid:remove_resource(From)},
    %% The part of the c2s state the hook reads: the session's address.
    State = #{ip => ejabberd_sm:get_user_ip(From#jid.user, From#jid.server, From#jid.resource)},
    Hooked = fun() -> {Stamped, _} = mod_xmpp_sic:user_send_packet({IQ, State}), Stamped end,
    Chat = #message{type = chat, from = From, to = jid:remove_resource(From),
                    body = [#text{data = <<"hello">>}]},
    Peer = maps:get(ip, State),
    Sender = jid:encode(From),
    Paths = [{"mod_sic (ejabberd 23.01)",
              fun() -> serialise(dispatch(mod_sic, process_sm_iq, IQ)) end},
             {"mod_xmpp_sic (hook stamps the address; handle_iq_el/5, reply #xmlel{} built in C)",
              fun() -> serialise(dispatch(mod_xmpp_sic, process_iq, Hooked())) end},
             {"mod_xmpp_sic, address from ejabberd_sm:get_user_ip/3 (IQ not from c2s)",
              fun() -> serialise(dispatch(mod_xmpp_sic, process_iq, IQ)) end},
             {"variant: handle_iq/5 + fxml_stream:parse_element/1 of the reply",
              fun() -> serialise(dispatch(?MODULE, process_iq_text, IQ)) end},
             {"bytes: ejabberd's own path (parse, decode, mod_sic, encode, to binary)",
              fun() -> mod_sic_from_bytes(?REQUEST, From) end},
             {"bytes: xmpp_sic:handle_iq/5 on the same bytes, reply text",
              fun() -> {ok, Reply} = xmpp_sic:handle_iq(?REQUEST, Sender, undefined, Peer, []),
                       Reply end},
             {"hook: mod_xmpp_sic's user_send_packet on a chat message",
              fun() -> {_, _} = mod_xmpp_sic:user_send_packet({Chat, State}), <<>> end}],
    put(?MODULE, stream_parser()),
    Funs = [Fun || {_, Fun} <- Paths],
    _ = [repeat(Fun, 1000) || Fun <- Funs],
    Times = [[per_iq(Fun, N) || Fun <- Funs] || _ <- lists:seq(1, Rounds)],
    [{Label, median([lists:nth(I, T) || T <- Times]), lists:min([lists:nth(I, T) || T <- Times]),
      Fun()}
     || {I, {Label, _}, Fun} <- lists:zip3(lists:seq(1, length(Paths)), Paths, Funs)].

median(Xs) ->
    lists:nth((length(Xs) + 1) div 2, lists:sort(Xs)).

%% ejabberd's path for the request's bytes, as the c2s process and the
%% router run it: the stream parser's element, the IQ decoded with its
%% payload left raw, 'from' and 'to' stamped, the handler dispatched, the
%% reply serialised.
mod_sic_from_bytes(Bytes, From) ->
    IQ = xmpp:decode(parse_stanza(Bytes), ?NS_CLIENT, [ignore_els]),
    serialise(dispatch(mod_sic, process_sm_iq,
                       IQ#iq{from = From, to = jid:remove_resource(From)})).

%% A stream parser as xmpp_stream_in keeps one per connection (events come
%% as plain messages), with the stream already open.
stream_parser() ->
    Parser = fxml_stream:parse(fxml_stream:new(self(), infinity, [no_gen_server]),
                               <<"<stream:stream xmlns='jabber:client' "
                                 "xmlns:stream='http://etherx.jabber.org/streams'>">>),
    receive {xmlstreamstart, _, _} -> Parser
    after 1000 -> erlang:error(no_stream_start)
    end.

parse_stanza(Bytes) ->
    put(?MODULE, fxml_stream:parse(get(?MODULE), Bytes)),
    receive {xmlstreamelement, El} -> El
    after 1000 -> erlang:error(no_stream_element)
    end.

%% What gen_iq_handler:process_iq/3 (not exported) does.
dispatch(Module, Function, #iq{sub_els = [El]} = IQ) ->
    Pkt = case erlang:function_exported(Module, decode_iq_subel, 1) of
              true -> Module:decode_iq_subel(El);
              false -> xmpp:decode(El)
          end,
    Module:Function(IQ#iq{sub_els = [Pkt]}).

serialise(Reply) ->
    fxml:element_to_binary(xmpp:encode(Reply, ?NS_CLIENT)).

per_iq(Fun, N) ->
    {Us, ok} = timer:tc(fun() -> repeat(Fun, N) end),
    Us / N.

repeat(_Fun, 0) -> ok;
repeat(Fun, N) -> _ = Fun(), repeat(Fun, N - 1).

-spec decode_iq_subel(xmlel()) -> xmlel().
decode_iq_subel(El) -> El.

%% mod_xmpp_sic:process_iq/1 as it would be with the text reply: the same
%% steps, but the reply is parsed back by fast_xml instead of built in C.
-spec process_iq_text(iq()) -> iq().
process_iq_text(#iq{type = Type, id = Id, from = From, to = To, sub_els = [El]} = IQ) ->
    Stanza = fxml:element_to_binary(
               #xmlel{name = <<"iq">>,
                      attrs = [{<<"type">>, atom_to_binary(Type, latin1)}, {<<"id">>, Id}],
                      children = [El]}),
    Peer = case ejabberd_sm:get_user_ip(From#jid.user, From#jid.server, From#jid.resource) of
               {IP, Port} when is_tuple(IP) -> {IP, Port};
               _ -> undefined
           end,
    {ok, Text} = xmpp_sic:handle_iq(Stanza, jid:encode(From), jid:encode(To), Peer, []),
    #xmlel{attrs = Attrs, children = Children} = fxml_stream:parse_element(Text),
    Kind = case lists:keyfind(<<"type">>, 1, Attrs) of
               {_, <<"result">>} -> result;
               _ -> error
           end,
    IQ#iq{type = Kind, from = To, to = From, sub_els = Children}.
