%%% @doc XEP-0279 "Server IP Check" for Erlang XMPP servers.
%%%
%%% A thin binding of the xmpp-sic library (`include/xmpp_sic.h'): the host
%%% hands over the parts of the IQ it has parsed, the authenticated sender,
%%% the JID the IQ was addressed to and what it knows of the client's
%%% connection; the library answers with the result or error to send, which
%%% the host builds with its own XML library, or says the IQ is not its
%%% business.
%%%
%%% Terms of the wrong type raise `badarg'; expected failures return
%%% `{error, Reason}'. Every function returns within microseconds (the NIFs
%%% run on the normal scheduler), and may be called from any number of
%%% processes at once.
%%% @end
-module(xmpp_sic).

-export([handle_parsed/8, handle_iq/5, features/1, version/0, abi_version/0]).
%% handle_parsed/8's own NIFs: not for hosts, exported so tests reach their checks.
-export([handle_parts/10, text_is_blank/1]).

-export_type([flag/0, peer/0, transport/0, source/0, form/0, answer/0, reason/0,
              xmlel/0, xmlcdata/0]).

-on_load(load_nif/0).
%% What the NIF library replaces (OTP 25): the compiler prepares these stubs
%% for it, and erlang:load_nif/2 refuses a library that would replace others.
-nifs([handle_parts/10, text_is_blank/1, handle_iq/5, features/1, version/0, abi_version/0]).

-type flag() :: omit_port | keep_v4_mapped | no_sic0.
%% `omit_port': never report a port. `keep_v4_mapped': report an
%% IPv4-mapped IPv6 peer as `::ffff:a.b.c.d' instead of `a.b.c.d'.
%% `no_sic0': answer only `urn:xmpp:sic:1'; sic:0 requests pass.

-type peer() :: {inet:ip_address(), inet:port_number()} | undefined.
%% The client's address and port, `undefined' when unknown (the client then
%% gets `<service-unavailable/>'). Port 0 means "no port to report".

-type transport() :: stream | websocket | bosh.
%% `stream': TCP with or without TLS (RFC 6120). `websocket': RFC 7395.
%% `bosh': XEP-0206, whose session outlives its HTTP connections, so no
%% port is ever reported.

-type source() :: socket | proxy_protocol | forwarded.
%% Where the peer's address came from: the server's own socket, a PROXY
%% protocol header of a trusted proxy (its port is the client's), or an
%% HTTP header such as X-Forwarded-For (no port is reported: the host keeps
%% the proxy's).

-type form() :: sic1_address | sic0_address | sic0_ip.
%% The payload to answer with: `<address xmlns="urn:xmpp:sic:1">' holding
%% `<ip/>' and, when a port is given, `<port/>'; `<address
%% xmlns="urn:xmpp:sic:0">' holding `<ip/>'; `<ip xmlns="urn:xmpp:sic:0">'
%% holding the address as text.

-type answer() :: {result, form(), IP :: binary(), inet:port_number() | undefined}
                | {error, Type :: auth | cancel | modify, Condition :: atom(), Text :: binary()}.
%% A result, or an XMPP stanza error: its type, its RFC 6120 condition as
%% an atom (bad-request, forbidden, not-allowed, service-unavailable), and
%% an English text for it.

-type reason() :: invalid_argument | malformed_stanza | panic | no_memory
                | unknown_status | unknown_answer.
%% `invalid_argument': the sender or target is not a valid JID.
%% `malformed_stanza' (handle_iq/5 only): not exactly one well-formed
%% `<iq/>' with `id' and `type', or longer than 65536 bytes. `panic': the
%% library caught an internal bug. `no_memory': handle_iq/5 could not
%% allocate its reply. `unknown_status' and `unknown_answer': a library
%% newer than this binding answered something it does not know.

-type xmlcdata() :: {xmlcdata, binary()}.
-type xmlel() :: {xmlel, Name :: binary(), Attrs :: [{binary(), binary()}],
                  Children :: [xmlel() | xmlcdata()]}.
%% fast_xml's `#xmlel{}' record (fxml.hrl), which ejabberd parses into.

-type fact() :: children | text | attributes | siblings.
%% The library's SIC_SHAPE_* bits: the payload has child elements; it holds
%% text other than whitespace; it has attributes other than namespace
%% declarations; the IQ holds another element, or text other than
%% whitespace, beside it.

-type shape() :: [fact()].
%% The facts handle_parsed/8 found, each at most once.

%% @doc Answers a Server IP Check request that the host has parsed.
%%
%% `Type' is the IQ's type (`get', `set', `result', `error'; any other
%% atom is an unknown type, answered bad-request). `SubEls' are the IQ's
%% children as parsed (ejabberd's `#iq.sub_els', each `#xmlel{}' or
%% `{xmlcdata, Text}'): the first element is the payload, whose namespace
%% is its `xmlns' attribute. Only the children and the payload's own
%% attributes and children are looked at, never deeper, so the call costs
%% the same for a payload nested to any depth. `Sender' is the
%% authenticated JID the host stamped; `Target' the JID the IQ was
%% addressed to, or `undefined'. `Transport' and `Source' say how the
%% client is connected and where `Peer' came from.
%%
%% Returns the answer to send to the sender, `pass' when the IQ is not a
%% Server IP Check request (route it as if this module were absent), or
%% `{error, Reason}'.
-spec handle_parsed(Type :: atom(), SubEls :: [xmlel() | xmlcdata()], Sender :: binary(),
                    Target :: binary() | undefined, Peer :: peer(), Transport :: transport(),
                    Source :: source(), Flags :: [flag()]) ->
          answer() | pass | {error, reason()}.
handle_parsed(Type, [{xmlel, Name, [{<<"xmlns">>, Ns}], []}], Sender, Target, Peer, Transport,
              Source, Flags) when is_binary(Name), is_binary(Ns) ->
    %% The request as clients send it walks nothing: each local call saved
    %% is 1-2% of the whole. The next head takes the other IQs whose payload
    %% has only its xmlns (ejabberd's sub_els hold elements only), the last
    %% anything else.
    handle_parts(Type, Name, Ns, [], Sender, Target, Peer, Transport, Source, Flags);
handle_parsed(Type, [{xmlel, Name, [{<<"xmlns">>, Ns}], Children} | Rest], Sender, Target, Peer,
              Transport, Source, Flags) when is_binary(Name), is_binary(Ns) ->
    Shape = after_payload(Rest, children(Children, [])),
    handle_parts(Type, Name, Ns, Shape, Sender, Target, Peer, Transport, Source, Flags);
handle_parsed(Type, SubEls, Sender, Target, Peer, Transport, Source, Flags) ->
    {Name, Ns, Shape} = before_payload(SubEls, []),
    handle_parts(Type, Name, Ns, Shape, Sender, Target, Peer, Transport, Source, Flags).

%% What the library asks of the IQ is flat: the payload's name, namespace
%% and shape(), read from the IQ's children and the payload's own
%% attributes and children, never deeper, so that a payload nested to any
%% depth costs what a flat one does. Each function raises badarg on a term
%% fast_xml does not make, as the NIF does on its arguments.

%% Up to the payload, the IQ's first element; text before it stands beside
%% it unless blank.
-spec before_payload(term(), shape()) -> {binary(), binary(), shape()}.
before_payload([{xmlel, Name, Attrs, Children} | Rest], Shape) when is_binary(Name) ->
    {Name, ns(Attrs), after_payload(Rest, children(Children, attrs(Attrs, Shape)))};
before_payload([{xmlcdata, Text} | Rest], Shape) when is_binary(Text) ->
    before_payload(Rest, text(Text, siblings, Shape));
before_payload([], Shape) ->
    {<<>>, <<>>, Shape};
before_payload(_, _) ->
    erlang:error(badarg).

%% The namespace is the payload's first xmlns attribute, which is what
%% ejabberd routed the IQ on (xmpp:get_ns/1 reads the first one), or <<>>.
%% attrs/2 checks the list, so this takes any term.
-spec ns(term()) -> binary().
ns([{<<"xmlns">>, Ns} | _]) when is_binary(Ns) ->
    Ns;
ns([_ | Rest]) ->
    ns(Rest);
ns(_) ->
    <<>>.

%% ejabberd's stream parser has already turned a prefixed name into a
%% local name and an xmlns, so the prefixes declared beside it are no
%% attributes.
-spec attrs(term(), shape()) -> shape().
attrs([{<<"xmlns">>, Value} | Rest], Shape) when is_binary(Value) ->
    attrs(Rest, Shape);
attrs([{<<"xmlns:", _:8, _/binary>>, Value} | Rest], Shape) when is_binary(Value) ->
    attrs(Rest, Shape);
attrs([{Name, Value} | Rest], Shape) when is_binary(Name), is_binary(Value) ->
    attrs(Rest, add(attributes, Shape));
attrs([], Shape) ->
    Shape;
attrs(_, _) ->
    erlang:error(badarg).

%% A list of children, of which only the kinds are looked at: an element
%% makes ElementFact known, a text that is not blank TextFact. The payload's
%% own children are `children' and `text'; whatever stands after the payload
%% in the IQ is `siblings' either way.
-spec kinds(term(), fact(), fact(), shape()) -> shape().
kinds([{xmlel, _, _, _} | Rest], ElementFact, TextFact, Shape) ->
    kinds(Rest, ElementFact, TextFact, add(ElementFact, Shape));
kinds([{xmlcdata, Text} | Rest], ElementFact, TextFact, Shape) when is_binary(Text) ->
    kinds(Rest, ElementFact, TextFact, text(Text, TextFact, Shape));
kinds([], _ElementFact, _TextFact, Shape) ->
    Shape;
kinds(_, _, _, _) ->
    erlang:error(badarg).

children(Children, Shape) ->
    kinds(Children, children, text, Shape).

after_payload(Rest, Shape) ->
    kinds(Rest, siblings, siblings, Shape).

%% A text that is not blank is Fact; once Fact is known, no text needs
%% scanning again.
-spec text(binary(), fact(), shape()) -> shape().
text(Text, Fact, Shape) ->
    case lists:member(Fact, Shape) orelse text_is_blank(Text) of
        true -> Shape;
        false -> [Fact | Shape]
    end.

-spec add(fact(), shape()) -> shape().
add(Fact, Shape) ->
    case lists:member(Fact, Shape) of
        true -> Shape;
        false -> [Fact | Shape]
    end.

%% @private The library's answer for the parts handle_parsed/8 read. Name
%% and Ns are <<>> when absent: an empty name is no name, which the library
%% answers with `pass'.
-spec handle_parts(Type :: atom(), Name :: binary(), Ns :: binary(), Shape :: shape(),
                   Sender :: binary(), Target :: binary() | undefined, Peer :: peer(),
                   Transport :: transport(), Source :: source(), Flags :: [flag()]) ->
          answer() | pass | {error, reason()}.
handle_parts(_Type, _Name, _Ns, _Shape, _Sender, _Target, _Peer, _Transport, _Source, _Flags) ->
    erlang:nif_error(nif_not_loaded).

%% @private Whether the text is only XML whitespace: the library's rule
%% (the S production), so that it lives in one place.
-spec text_is_blank(Text :: binary()) -> boolean().
text_is_blank(_Text) ->
    erlang:nif_error(nif_not_loaded).

%% @doc Answers a Server IP Check request given as text, on the library's
%% own XML parser: `Iq' is the stanza (iodata, at most 65536 bytes), the
%% other arguments as for {@link handle_parsed/8} over a plain stream.
%% Returns `{ok, Reply}' with the result or error stanza as text, `pass',
%% or `{error, Reason}'. For hosts that hold the stanza as text.
-spec handle_iq(Iq :: iodata(), Sender :: binary(), Target :: binary() | undefined,
                Peer :: peer(), Flags :: [flag()]) ->
          {ok, binary()} | pass | {error, reason()}.
handle_iq(_Iq, _Sender, _Target, _Peer, _Flags) ->
    erlang:nif_error(nif_not_loaded).

%% @doc The disco#info features to advertise for these flags.
-spec features(Flags :: [flag()]) -> [binary()].
features(_Flags) ->
    erlang:nif_error(nif_not_loaded).

%% @doc The version of the linked xmpp-sic library.
-spec version() -> binary().
version() ->
    erlang:nif_error(nif_not_loaded).

%% @doc The ABI version of the linked library; the NIF refuses to load when
%% it differs from the one its header declared.
-spec abi_version() -> non_neg_integer().
abi_version() ->
    erlang:nif_error(nif_not_loaded).

-spec load_nif() -> ok | {error, term()}.
load_nif() ->
    erlang:load_nif(filename:join(priv_dir(), "xmpp_sic_nif"), 0).

%% code:priv_dir/1 finds the application only when its directory is named
%% after it; a copy dropped into ejabberd's tree under another name still
%% has priv/ beside ebin/.
-spec priv_dir() -> file:filename().
priv_dir() ->
    case code:priv_dir(?MODULE) of
        {error, bad_name} ->
            filename:join(filename:dirname(filename:dirname(code:which(?MODULE))), "priv");
        Dir ->
            Dir
    end.
