%%% @doc XEP-0279 "Server IP Check" for Erlang XMPP servers.
%%%
%%% A thin binding of the xmpp-sic library (`include/xmpp_sic.h'): the host
%%% hands over the IQ as it serialised it, the authenticated sender, the JID
%%% the IQ was addressed to and the client's address; the library answers
%%% with a result or error stanza, or says the IQ is not its business.
%%%
%%% Terms of the wrong type raise `badarg'; expected failures return
%%% `{error, Reason}'. Every function is a normal NIF that returns within
%%% microseconds, and may be called from any number of processes at once.
%%% @end
-module(xmpp_sic).

-export([handle_iq/5, handle_iq_el/5, features/1, version/0, abi_version/0]).

-export_type([flag/0, peer/0, reason/0, xmlel/0, xmlcdata/0]).

-on_load(load_nif/0).

-type flag() :: omit_port | keep_v4_mapped | no_sic0.
%% `omit_port': never report a port (for addresses taken from a proxy
%% header, whose port is the proxy's). `keep_v4_mapped': report an
%% IPv4-mapped IPv6 peer as `::ffff:a.b.c.d' instead of `a.b.c.d'.
%% `no_sic0': answer only `urn:xmpp:sic:1'; sic:0 requests pass.

-type peer() :: {inet:ip_address(), inet:port_number()} | undefined.
%% The client's address and port, `undefined' when unknown (the client then
%% gets `<service-unavailable/>'). Port 0 means "no port to report".

-type reason() :: invalid_argument | malformed_stanza | panic
                | buffer_too_small | null_argument | unknown_status
                | no_memory | malformed_reply.
%% `invalid_argument': the sender or target is not a valid JID.
%% `malformed_stanza': not exactly one well-formed `<iq/>' with `id' and
%% `type', or longer than 65536 bytes. `panic': the library caught an
%% internal bug. `no_memory': the reply buffer could not be allocated.
%% `malformed_reply' (handle_iq_el/5 only): the reply text could not be
%% turned into a term, which would be a bug. `buffer_too_small',
%% `null_argument' and `unknown_status' cannot happen through this module
%% and are listed for completeness of the status mapping.

-type xmlcdata() :: {xmlcdata, binary()}.
-type xmlel() :: {xmlel, Name :: binary(), Attrs :: [{binary(), binary()}],
                  Children :: [xmlel() | xmlcdata()]}.
%% The `#xmlel{}' record of fast_xml (fxml.hrl), which ejabberd routes.

%% @doc Answers a Server IP Check request.
%%
%% `Iq' is the stanza as the host serialised it (iodata, at most 65536
%% bytes). `Sender' is the authenticated full JID the host stamped on it;
%% the stanza's own `from' is ignored. `Target' is the JID the IQ was
%% addressed to, or `undefined' when it had none. IPv4 tuples are passed as
%% `sockaddr_in', IPv6 8-tuples (v4-mapped ones included) as
%% `sockaddr_in6'.
%%
%% Returns `{ok, Reply}' with a result or error stanza to send to the
%% sender, `pass' when the IQ is not a Server IP Check request (route it as
%% if this module were absent), or `{error, Reason}'.
-spec handle_iq(Iq :: iodata(), Sender :: binary(), Target :: binary() | undefined,
                Peer :: peer(), Flags :: [flag()]) ->
          {ok, binary()} | pass | {error, reason()}.
handle_iq(_Iq, _Sender, _Target, _Peer, _Flags) ->
    erlang:nif_error(nif_not_loaded).

%% @doc Like {@link handle_iq/5}, but the reply comes as a fast_xml
%% `#xmlel{}' term, built in C from the reply text, so that an ejabberd
%% module can route it without running an XML parser over it again.
-spec handle_iq_el(Iq :: iodata(), Sender :: binary(), Target :: binary() | undefined,
                   Peer :: peer(), Flags :: [flag()]) ->
          {ok, xmlel()} | pass | {error, reason()}.
handle_iq_el(_Iq, _Sender, _Target, _Peer, _Flags) ->
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
