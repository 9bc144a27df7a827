%%%----------------------------------------------------------------------
%%% mod_xmpp_sic: XEP-0279 "Server IP Check" for ejabberd, answered by the
%%% xmpp-sic library through the xmpp_sic NIF.
%%%
%%% Replaces mod_sic, which rejects the XEP v0.1 `<ip/>' form (what
%%% slixmpp's check_ip() sends) and puts `<port/>' before `<ip/>'.
%%% Disable mod_sic when enabling this module: one handler owns a
%%% namespace per host.
%%%----------------------------------------------------------------------
-module(mod_xmpp_sic).

-protocol({xep, 279, '0.2'}).

-behaviour(gen_mod).

-export([start/2, stop/1, reload/3, depends/2, mod_opt_type/1, mod_options/1, mod_doc/0]).
-export([process_iq/1, decode_iq_subel/1, user_send_packet/1]).

-include("xmpp.hrl").
-include("logger.hrl").
-include("ejabberd_http.hrl").

%% Late, so a module that rewrites or drops the packet has done so.
-define(HOOK_PRIORITY, 90).
%% Where user_send_packet/1 leaves the sender's connection address.
-define(PEER_META, xmpp_sic_peer).
%% Where the c2s state keeps a WebSocket connection's address source.
-define(SOURCE_STATE, xmpp_sic_source).

%%% gen_mod

-spec start(binary(), gen_mod:opts()) -> ok.
start(Host, Opts) ->
    ensure_nif(),
    Flags = flags(Opts),
    persistent_term:put({?MODULE, Host}, Flags),
    lists:foreach(fun(NS) -> add_handlers(Host, NS) end, xmpp_sic:features(Flags)),
    ejabberd_hooks:add(user_send_packet, Host, ?MODULE, user_send_packet, ?HOOK_PRIORITY),
    ?INFO_MSG("mod_xmpp_sic on ~ts: xmpp-sic ~ts, flags ~p", [Host, xmpp_sic:version(), Flags]).

-spec stop(binary()) -> ok.
stop(Host) ->
    ejabberd_hooks:delete(user_send_packet, Host, ?MODULE, user_send_packet, ?HOOK_PRIORITY),
    lists:foreach(fun(NS) -> remove_handlers(Host, NS) end, xmpp_sic:features(host_flags(Host))),
    _ = persistent_term:erase({?MODULE, Host}),
    ok.

-spec reload(binary(), gen_mod:opts(), gen_mod:opts()) -> ok.
reload(Host, NewOpts, _OldOpts) ->
    Old = xmpp_sic:features(host_flags(Host)),
    Flags = flags(NewOpts),
    New = xmpp_sic:features(Flags),
    persistent_term:put({?MODULE, Host}, Flags),
    lists:foreach(fun(NS) -> remove_handlers(Host, NS) end, Old -- New),
    lists:foreach(fun(NS) -> add_handlers(Host, NS) end, New -- Old).

-spec depends(binary(), gen_mod:opts()) -> [{module(), hard | soft}].
depends(_Host, _Opts) ->
    [].

-spec mod_opt_type(atom()) -> econf:validator().
mod_opt_type(omit_port) -> econf:bool();
mod_opt_type(keep_v4_mapped) -> econf:bool();
mod_opt_type(sic0) -> econf:bool().

-spec mod_options(binary()) -> [{atom(), term()}].
mod_options(_Host) ->
    [{omit_port, false}, {keep_v4_mapped, false}, {sic0, true}].

-spec mod_doc() -> map().
mod_doc() ->
    #{desc =>
          [<<"XEP-0279 Server IP Check, answered by the xmpp-sic library: "
             "urn:xmpp:sic:1 (ip then port) and urn:xmpp:sic:0 (both the "
             "<ip/> and the <address/> form), to the user's own bare JID, "
             "with no 'to', or to the domain. Disable mod_sic when using it.">>],
      opts =>
          [{omit_port,
            #{value => "true | false",
              desc => <<"Never report the port. Default: false.">>}},
           {keep_v4_mapped,
            #{value => "true | false",
              desc => <<"Report IPv4 clients of a dual-stack listener as "
                        "::ffff:a.b.c.d instead of a.b.c.d. Default: false.">>}},
           {sic0,
            #{value => "true | false",
              desc => <<"Also answer and advertise urn:xmpp:sic:0. Default: true.">>}}]}.

%%% IQ handling

%% The sender's c2s process knows the connection: its address and port, its
%% transport, and whether the address came from a proxy. The session table
%% knows the address too, but asking it (ejabberd_sm:get_user_ip/3: three
%% stringprep calls, the backend's session lookup) costs more than the rest
%% of the request. So the c2s process stamps these facts on its own Server
%% IP Check requests as they leave, and process_iq/1 reads them from there.
%% Only get/set IQs whose one payload is in a Server IP Check namespace are
%% touched; for any other packet this is one failed function-head match.
-spec user_send_packet({stanza(), ejabberd_c2s:state()}) -> {stanza(), ejabberd_c2s:state()}.
user_send_packet({#iq{type = Type, sub_els = [#xmlel{attrs = Attrs}]} = IQ,
                  #{ip := {IP, Port} = Peer} = State})
  when (Type =:= get orelse Type =:= set),
       (tuple_size(IP) =:= 4 orelse tuple_size(IP) =:= 8), is_integer(Port) ->
    %% Only an IP address is stamped: a connection through a Unix socket
    %% has {local, Path} there, and is then answered as one without a
    %% usable address.
    case lists:keyfind(<<"xmlns">>, 1, Attrs) of
        {_, <<"urn:xmpp:sic:", _/binary>>} ->
            {Connection, State1} = connection(Peer, State),
            {xmpp:put_meta(IQ, ?PEER_META, Connection), State1};
        _ ->
            {IQ, State}
    end;
user_send_packet(Acc) ->
    Acc.

%% {Peer, Transport, Source} for the library, from the c2s socket (an
%% xmpp_socket state) when there is one, and the c2s state. A WebSocket's
%% source costs a call to another process (websocket_source/2), so it is
%% kept in the c2s state: one connection per c2s process, and a session
%% resumed on a new connection gets a new process and state (ejabberd_c2s:
%% copy_state/2 carries over only the session's own keys).
connection({IP, _} = Peer, #{socket := Socket} = State) ->
    case transport(xmpp_socket:get_transport(Socket)) of
        websocket ->
            case State of
                #{?SOURCE_STATE := Source} ->
                    {{Peer, websocket, Source}, State};
                _ ->
                    Source = websocket_source(Socket, IP),
                    {{Peer, websocket, Source}, State#{?SOURCE_STATE => Source}}
            end;
        Transport ->
            {{Peer, Transport, source(Transport, Socket, IP)}, State}
    end;
connection(Peer, State) ->
    {{Peer, stream, socket}, State}.

%% xmpp_socket's transports, and ejabberd_c2s's connection types in the
%% session table: every other one is a TCP stream, with TLS or zlib or not.
transport(websocket) -> websocket;
transport(http_bind) -> bosh;
transport(_) -> stream.

%% Where the session's address came from.
%% * A stream: a listener with use_proxy_protocol hands the c2s socket the
%%   PROXY header's endpoints (xmpp_socket's #socket_state.sock_peer_name,
%%   its 7th field in p1_xmpp 1.6 and 1.9; the record is private, hence
%%   element/2); otherwise the socket.
%% * A WebSocket: ejabberd_http replaces the address with X-Forwarded-For's
%%   when the request came through trusted_proxies, keeps the TCP
%%   connection's port, and tells the session nothing of it. The upgrade
%%   request (#ws{}, kept by the ejabberd_http_ws process) still holds the
%%   real connection and its headers, which tell (websocket_source/2).
%% * BOSH: the address is the first HTTP request's, and no process keeps
%%   that request or its connection (ejabberd_bosh holds the address
%%   only). With trusted_proxies set it is taken as forwarded; the library
%%   reports no port for BOSH whatever the source, so this never changes
%%   an answer.
source(stream, Socket, _IP)
  when is_tuple(Socket), tuple_size(Socket) >= 7, element(1, Socket) =:= socket_state,
       element(7, Socket) =/= none ->
    proxy_protocol;
source(bosh, _Socket, _IP) ->
    guess_source();
source(_Transport, _Socket, _IP) ->
    socket.

%% A WebSocket's address is its connection's own peer (the socket), or
%% was put there by ejabberd_http: from X-Forwarded-For through a trusted
%% proxy, or from a PROXY header on a listener with use_proxy_protocol
%% (then the port is the header's source port too). Prosody's binding tells
%% the same way: the session's address against the connection's. When the
%% address differs, the header that names it is the one that gave it. A
%% header naming the proxy itself leaves the address the connection's, with
%% its port. When the upgrade request cannot be read (another ejabberd's
%% layout), a server with trusted_proxies set is taken to forward: at worst
%% a port is left out.
websocket_source(Socket, IP) ->
    case upgrade_request(Socket) of
        #ws{socket = Sock, sockmod = Mod, headers = Headers} ->
            case peername(Mod, Sock) of
                {ok, {IP, _}} ->
                    socket;
                {ok, _Proxy} ->
                    case xff_client(proplists:get_value('X-Forwarded-For', Headers)) of
                        IP -> forwarded;
                        _ -> proxy_protocol
                    end;
                _ ->
                    guess_source()
            end;
        _ ->
            guess_source()
    end.

guess_source() ->
    case ejabberd_option:trusted_proxies() of
        [] -> socket;
        _ -> forwarded
    end.

%% The c2s socket of a WebSocket session is {http_ws, Fsm, IP}; the
%% ejabberd_http_ws process Fsm keeps {#ws{}, Pid} in its state record.
%% It is a p1_fsm, whose sys:get_state/2 answers with its whole loop data
%% (a list holding the state record) rather than {StateName, Data}: the
%% record is looked for in either. Asked only for a Server IP Check
%% request, from the session's own c2s process.
upgrade_request(Socket) when is_tuple(Socket), tuple_size(Socket) >= 3 ->
    case element(3, Socket) of
        {http_ws, Fsm, _} when is_pid(Fsm), Fsm =/= self() ->
            try sys:get_state(Fsm, 1000) of
                Loop -> find_ws(holders(Loop))
            catch
                _:_ -> undefined
            end;
        _ ->
            undefined
    end;
upgrade_request(_) ->
    undefined.

holders(Loop) when is_list(Loop) -> Loop;
holders(Loop) when is_tuple(Loop) -> tuple_to_list(Loop);
holders(_) -> [].

find_ws([{#ws{} = WS, _} | _]) -> WS;
find_ws([State | Rest]) when is_tuple(State), tuple_size(State) > 2 ->
    case find_ws_field(tuple_to_list(State)) of
        undefined -> find_ws(Rest);
        WS -> WS
    end;
find_ws([_ | Rest]) -> find_ws(Rest);
find_ws([]) -> undefined.

find_ws_field([{#ws{} = WS, _} | _]) -> WS;
find_ws_field([_ | Rest]) -> find_ws_field(Rest);
find_ws_field([]) -> undefined.

peername(gen_tcp, Sock) -> inet:peername(Sock);
peername(Mod, Sock) -> catch Mod:peername(Sock).

%% The client's address in an X-Forwarded-For value (its first entry, as
%% ejabberd_http reads it), or undefined.
xff_client(Value) when is_binary(Value) ->
    case binary:split(Value, [<<",">>, <<" ">>], [global, trim_all]) of
        [First | _] ->
            case inet:parse_address(binary_to_list(First)) of
                {ok, Addr} -> Addr;
                _ -> undefined
            end;
        [] ->
            undefined
    end;
xff_client(_) ->
    undefined.

%% Keeps the payload raw: ejabberd's codec rejects the XEP v0.1 <ip/> form
%% ("Missing cdata"), and the library wants only its name and shape.
-spec decode_iq_subel(xmlel() | xmpp_element()) -> xmlel().
decode_iq_subel(#xmlel{} = El) -> El;
decode_iq_subel(El) -> xmpp:encode(El).

%% The reply is built from ejabberd's own records and the answer's plain
%% terms: the request and its payload are never serialised (fast_xml's
%% serialiser recurses once per nesting level, and a payload a few thousand
%% levels deep would take the node down), and an error reply carries no
%% copy of them.
-spec process_iq(iq()) -> iq().
process_iq(#iq{type = Type, lang = Lang, from = From, to = To, sub_els = SubEls} = IQ) ->
    {Peer, Transport, Source} = request_connection(IQ),
    case xmpp_sic:handle_parsed(Type, SubEls, jid_text(From), target(From, To), Peer,
                                Transport, Source, host_flags(To#jid.lserver)) of
        {result, Form, IP, Port} ->
            xmpp:make_iq_result(IQ, payload(Form, IP, Port));
        {error, ErrType, Condition, Text} ->
            error_reply(IQ, #stanza_error{type = ErrType, reason = Condition,
                                          text = [#text{lang = <<"en">>, data = Text}]});
        pass ->
            error_reply(IQ, xmpp:err_service_unavailable(
                              <<"No module is handling this query">>, Lang));
        {error, invalid_argument} ->
            %% ejabberd accepted both JIDs, so the library's RFC 7622 checks
            %% disagree with ejabberd's stringprep: worth a look, not a crash.
            ?WARNING_MSG("mod_xmpp_sic: the xmpp-sic library refused the JIDs ~ts and ~ts",
                         [jid:encode(From), jid:encode(To)]),
            error_reply(IQ, xmpp:err_internal_server_error(<<"Server IP Check failed">>, Lang));
        {error, Reason} ->
            ?ERROR_MSG("mod_xmpp_sic: the xmpp-sic library failed with ~p on a request "
                       "from ~ts to ~ts", [Reason, jid:encode(From), jid:encode(To)]),
            error_reply(IQ, xmpp:err_internal_server_error(<<"Server IP Check failed">>, Lang))
    end.

error_reply(IQ, Error) ->
    xmpp:make_error(IQ#iq{sub_els = []}, Error).

payload(sic1_address, IP, undefined) ->
    #xmlel{name = <<"address">>, attrs = [{<<"xmlns">>, ?NS_SIC_1}], children = [field(<<"ip">>, IP)]};
payload(sic1_address, IP, Port) ->
    #xmlel{name = <<"address">>, attrs = [{<<"xmlns">>, ?NS_SIC_1}],
           children = [field(<<"ip">>, IP), field(<<"port">>, integer_to_binary(Port))]};
payload(sic0_address, IP, _Port) ->
    #xmlel{name = <<"address">>, attrs = [{<<"xmlns">>, ?NS_SIC_0}], children = [field(<<"ip">>, IP)]};
payload(sic0_ip, IP, _Port) ->
    #xmlel{name = <<"ip">>, attrs = [{<<"xmlns">>, ?NS_SIC_0}], children = [{xmlcdata, IP}]}.

field(Name, Text) ->
    #xmlel{name = Name, children = [{xmlcdata, Text}]}.

%% jid:encode/1 goes through the generic jid() clauses; the three parts are
%% at hand, and the library validates the result itself. Built on every
%% request, so the first segment is given its size: `<<U/binary, ...>>'
%% compiles to an append to U, which makes the result a growable off-heap
%% binary (0.15-0.25 us on OTP 25, against 0.06 us for the sized form).
jid_text(#jid{user = <<>>, server = S, resource = <<>>}) -> S;
jid_text(#jid{user = <<>>, server = S, resource = R}) ->
    <<S:(byte_size(S))/binary, "/", R/binary>>;
jid_text(#jid{user = U, server = S, resource = <<>>}) ->
    <<U:(byte_size(U))/binary, "@", S/binary>>;
jid_text(#jid{user = U, server = S, resource = R}) ->
    <<U:(byte_size(U))/binary, "@", S/binary, "/", R/binary>>.

%% ejabberd addresses an IQ without 'to' to the sender's bare JID, and the
%% library answers both alike; leaving the target out then spares it
%% validating a second JID. (ejabberd's own records address the reply.)
target(#jid{luser = U, lserver = S}, #jid{luser = U, lserver = S, lresource = <<>>}) ->
    undefined;
target(_From, To) ->
    jid_text(To).

%% What user_send_packet/1 stamped on the request, else what the session
%% table knows, as mod_sic does (an IQ that did not leave through a c2s
%% process, such as one injected with the send_stanza command). The
%% session matters only when the sender asks its own account or its own
%% domain, which are always on the target's host; for any other pair the
%% library answers forbidden without looking at the address, and a remote
%% sender's host would not even be a valid session-store key.
request_connection(#iq{meta = #{?PEER_META := Connection}}) ->
    Connection;
request_connection(#iq{from = #jid{user = U, server = S, resource = R, lserver = Host},
                       to = #jid{lserver = Host}}) ->
    Info = ejabberd_sm:get_user_info(U, S, R),
    Transport = case Info of
                    [_ | _] -> transport(proplists:get_value(conn, Info));
                    _ -> stream
                end,
    Peer = session_peer(Info),
    {Peer, Transport, session_source(Transport, Peer)};
request_connection(_IQ) ->
    {undefined, stream, socket}.

%% No c2s socket at hand: an HTTP session's address is taken as forwarded
%% when the server trusts proxies (at worst a port is left out).
session_source(stream, _Peer) -> socket;
session_source(_HTTP, _Peer) -> guess_source().

session_peer([_ | _] = Info) ->
    case proplists:get_value(ip, Info) of
        {IP, Port} = Peer when (tuple_size(IP) =:= 4 orelse tuple_size(IP) =:= 8),
                               is_integer(Port) ->
            Peer;
        _ ->
            undefined
    end;
session_peer(_) ->
    undefined.

%%% Internals

flags(Opts) ->
    [omit_port || gen_mod:get_opt(omit_port, Opts)] ++
        [keep_v4_mapped || gen_mod:get_opt(keep_v4_mapped, Opts)] ++
        [no_sic0 || not gen_mod:get_opt(sic0, Opts)].

%% Read on every IQ: a persistent_term costs a few nanoseconds, an options
%% lookup an ETS read.
host_flags(Host) ->
    persistent_term:get({?MODULE, Host}, []).

add_handlers(Host, NS) ->
    gen_iq_handler:add_iq_handler(ejabberd_local, Host, NS, ?MODULE, process_iq),
    gen_iq_handler:add_iq_handler(ejabberd_sm, Host, NS, ?MODULE, process_iq).

remove_handlers(Host, NS) ->
    gen_iq_handler:remove_iq_handler(ejabberd_local, Host, NS),
    gen_iq_handler:remove_iq_handler(ejabberd_sm, Host, NS).

%% Fail at start with a readable reason rather than on the first IQ.
ensure_nif() ->
    case code:ensure_loaded(xmpp_sic) of
        {module, xmpp_sic} ->
            ok;
        {error, Why} ->
            ?CRITICAL_MSG("mod_xmpp_sic: the xmpp_sic NIF module could not be loaded (~p); "
                          "put xmpp_sic.beam on the code path with priv/xmpp_sic_nif.so "
                          "beside its ebin/", [Why]),
            erlang:error({xmpp_sic_not_loaded, Why})
    end.
