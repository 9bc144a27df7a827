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

%% Late, so a module that rewrites or drops the packet has done so.
-define(HOOK_PRIORITY, 90).
%% Where user_send_packet/1 leaves the sender's connection address.
-define(PEER_META, xmpp_sic_peer).

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

%% The sender's c2s process knows the connection's address and port; the
%% session table knows them too, but asking it (ejabberd_sm:get_user_ip/3:
%% three stringprep calls, the backend's session lookup) cost about 6 us of
%% the 9 us that mod_sic spends per request. So the c2s process stamps the
%% address on its own Server IP Check requests as they leave, and
%% process_iq/1 reads it from there. Only get/set IQs whose one payload is
%% in a Server IP Check namespace are touched; for any other packet this is
%% one failed function-head match.
-spec user_send_packet({stanza(), ejabberd_c2s:state()}) -> {stanza(), ejabberd_c2s:state()}.
user_send_packet({#iq{type = Type, sub_els = [#xmlel{attrs = Attrs}]} = IQ,
                  #{ip := {IP, Port} = Peer} = State})
  when (Type =:= get orelse Type =:= set),
       (tuple_size(IP) =:= 4 orelse tuple_size(IP) =:= 8), is_integer(Port) ->
    %% Only an IP address is stamped: a connection through a Unix socket
    %% has {local, Path} there, and is then answered as one without a
    %% usable address.
    case lists:keyfind(<<"xmlns">>, 1, Attrs) of
        {_, <<"urn:xmpp:sic:", _/binary>>} -> {xmpp:put_meta(IQ, ?PEER_META, Peer), State};
        _ -> {IQ, State}
    end;
user_send_packet(Acc) ->
    Acc.

%% Keeps the payload raw: ejabberd's codec rejects the XEP v0.1 <ip/> form
%% ("Missing cdata"), and the library wants the XML anyway.
-spec decode_iq_subel(xmlel() | xmpp_element()) -> xmlel().
decode_iq_subel(#xmlel{} = El) -> El;
decode_iq_subel(El) -> xmpp:encode(El).

-spec process_iq(iq()) -> iq().
process_iq(#iq{type = Type, id = Id, lang = Lang, from = From, to = To,
               sub_els = [El]} = IQ) ->
    Stanza = request(Type, Id, El),
    Flags = host_flags(To#jid.lserver),
    case xmpp_sic:handle_iq_el(Stanza, jid_text(From), target(From, To), peer(IQ), Flags) of
        {ok, #xmlel{attrs = Attrs, children = Children}} ->
            %% The reply's to/from are the sender and target we passed in,
            %% so ejabberd's own #jid{} records are reused instead of
            %% parsing them back from text.
            IQ#iq{type = reply_type(Attrs), from = To, to = From, sub_els = Children};
        pass ->
            ?DEBUG("mod_xmpp_sic: not a Server IP Check request, refused:~n~ts", [Stanza]),
            xmpp:make_error(IQ, xmpp:err_service_unavailable(
                                  <<"No module is handling this query">>, Lang));
        {error, malformed_stanza} ->
            ?DEBUG("mod_xmpp_sic: the library refused the stanza as malformed:~n~ts", [Stanza]),
            xmpp:make_error(IQ, xmpp:err_bad_request(<<"Malformed Server IP Check request">>, Lang));
        {error, invalid_argument} ->
            %% ejabberd accepted both JIDs, so the library's RFC 7622 checks
            %% disagree with ejabberd's stringprep: worth a look, not a crash.
            ?WARNING_MSG("mod_xmpp_sic: the xmpp-sic library refused the JIDs ~ts and ~ts",
                         [jid:encode(From), jid:encode(To)]),
            xmpp:make_error(IQ, xmpp:err_internal_server_error(
                                  <<"Server IP Check failed">>, Lang));
        {error, Reason} ->
            ?ERROR_MSG("mod_xmpp_sic: the xmpp-sic library failed with ~p on a request "
                       "from ~ts to ~ts:~n~ts",
                       [Reason, jid:encode(From), jid:encode(To), Stanza]),
            xmpp:make_error(IQ, xmpp:err_internal_server_error(
                                  <<"Server IP Check failed">>, Lang))
    end.

%% The library reads only the IQ's type, id and payload (sender and target
%% come as arguments), so a minimal <iq/> is written: this runs on every
%% request, and costs a fraction of handing a record tree to
%% fxml:element_to_binary/1. It is built as one binary, because the NIF
%% would otherwise flatten an iolist into a temporary one (measured: 16 ns
%% here against about 0.5 us there).
-spec request(get | set, binary(), xmlel() | xmpp_element()) -> binary().
request(Type, Id, El) ->
    TypeText = atom_to_binary(Type, latin1),
    IdText = attr_text(Id),
    Payload = payload(El),
    <<"<iq type='", TypeText/binary, "' id='", IdText/binary, "'>", Payload/binary, "</iq>">>.

%% The usual request is an empty element whose only attribute is the
%% namespace it was routed on, which is one of the library's own and needs
%% no escaping, as an element name from the parser needs none.
payload(#xmlel{name = Name, attrs = [{<<"xmlns">>, NS}], children = []}) ->
    <<"<", Name/binary, " xmlns='", NS/binary, "'/>">>;
payload(El) ->
    fxml:element_to_binary(decode_iq_subel(El)).

%% Escapes an attribute value for a '-quoted attribute. Whitespace is
%% escaped too, so the library's attribute-value normalisation gives back
%% exactly the id ejabberd decoded.
attr_text(Value) ->
    case needs_escape(Value) of
        false -> Value;
        true -> << <<(escape_char(C))/binary>> || <<C>> <= Value >>
    end.

needs_escape(<<C, _/binary>>) when C =:= $&; C =:= $<; C =:= $>; C =:= $'; C =:= $";
                                   C =:= $\t; C =:= $\n; C =:= $\r ->
    true;
needs_escape(<<_, Rest/binary>>) ->
    needs_escape(Rest);
needs_escape(<<>>) ->
    false.

escape_char($&) -> <<"&amp;">>;
escape_char($<) -> <<"&lt;">>;
escape_char($>) -> <<"&gt;">>;
escape_char($') -> <<"&apos;">>;
escape_char($") -> <<"&quot;">>;
escape_char($\t) -> <<"&#9;">>;
escape_char($\n) -> <<"&#10;">>;
escape_char($\r) -> <<"&#13;">>;
escape_char(C) -> <<C>>.

%% jid:encode/1 goes through the generic jid() clauses; the three parts are
%% at hand, and the library validates the result itself.
jid_text(#jid{user = <<>>, server = S, resource = <<>>}) -> S;
jid_text(#jid{user = <<>>, server = S, resource = R}) -> <<S/binary, "/", R/binary>>;
jid_text(#jid{user = U, server = S, resource = <<>>}) -> <<U/binary, "@", S/binary>>;
jid_text(#jid{user = U, server = S, resource = R}) -> <<U/binary, "@", S/binary, "/", R/binary>>.

%% ejabberd addresses an IQ without 'to' to the sender's bare JID, and the
%% library answers both alike; leaving the target out then spares it
%% validating a second JID. (It changes only the reply's 'from', which is
%% not used: ejabberd's own records address the reply.)
target(#jid{luser = U, lserver = S}, #jid{luser = U, lserver = S, lresource = <<>>}) ->
    undefined;
target(_From, To) ->
    jid_text(To).

%% The address user_send_packet/1 stamped on the request, else the one in
%% the session table, as mod_sic does (an IQ that did not leave through a
%% c2s process, such as one injected with the send_stanza command).
%% The session's address matters only when the sender asks its own account
%% or its own domain, which are always on the target's host; for any other
%% pair the library answers forbidden without looking at the address, and
%% a remote sender's host would not even be a valid session-store key.
peer(#iq{meta = #{?PEER_META := Peer}}) ->
    Peer;
peer(#iq{from = From, to = To}) ->
    session_peer(From, To).

session_peer(#jid{user = U, server = S, resource = R, lserver = Host}, #jid{lserver = Host}) ->
    case ejabberd_sm:get_user_ip(U, S, R) of
        {IP, Port} = Peer when (tuple_size(IP) =:= 4 orelse tuple_size(IP) =:= 8),
                               is_integer(Port) ->
            Peer;
        _ ->
            undefined
    end;
session_peer(_From, _To) ->
    undefined.

reply_type(Attrs) ->
    case lists:keyfind(<<"type">>, 1, Attrs) of
        {_, <<"result">>} -> result;
        _ -> error
    end.

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
