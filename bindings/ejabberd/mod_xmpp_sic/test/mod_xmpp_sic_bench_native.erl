%%% Bench only: what a Server IP Check costs when written natively in
%%% ejabberd, with no library call. On a namespace of its own, it answers a
%%% get to the sender's own account or domain with the very sic:1 reply
%%% mod_xmpp_sic sends, built from xmpp records; the address comes the way
%%% mod_xmpp_sic gets it, stamped by the sender's c2s process in a
%%% user_send_packet hook. mod_xmpp_sic_bench installs and removes it.
-module(mod_xmpp_sic_bench_native).

-export([install/1, uninstall/1, process_iq/1, decode_iq_subel/1, user_send_packet/1]).

-include("xmpp.hrl").

-define(NS, <<"urn:xmpp-sic:bench:native">>).
-define(META, xmpp_sic_bench_peer).

-spec install(binary()) -> ok.
install(Host) ->
    gen_iq_handler:add_iq_handler(ejabberd_sm, Host, ?NS, ?MODULE, process_iq),
    ejabberd_hooks:add(user_send_packet, Host, ?MODULE, user_send_packet, 90).

-spec uninstall(binary()) -> ok.
uninstall(Host) ->
    ejabberd_hooks:delete(user_send_packet, Host, ?MODULE, user_send_packet, 90),
    gen_iq_handler:remove_iq_handler(ejabberd_sm, Host, ?NS).

-spec user_send_packet({stanza(), map()}) -> {stanza(), map()}.
user_send_packet({#iq{type = get, sub_els = [#xmlel{attrs = [{<<"xmlns">>, ?NS}]}]} = IQ,
                  #{ip := {_, _} = Peer} = State}) ->
    {xmpp:put_meta(IQ, ?META, Peer), State};
user_send_packet(Acc) ->
    Acc.

-spec decode_iq_subel(xmlel()) -> xmlel().
decode_iq_subel(El) -> El.

-spec process_iq(iq()) -> iq().
process_iq(#iq{type = get, from = #jid{luser = U, lserver = S}, to = #jid{luser = To, lserver = S},
               sub_els = [#xmlel{children = []}], meta = #{?META := {IP, Port}}} = IQ)
  when To =:= U; To =:= <<>> ->
    xmpp:make_iq_result(
      IQ, #xmlel{name = <<"address">>, attrs = [{<<"xmlns">>, ?NS_SIC_1}],
                 children = [#xmlel{name = <<"ip">>, children = [{xmlcdata, ip_text(IP)}]},
                             #xmlel{name = <<"port">>,
                                    children = [{xmlcdata, integer_to_binary(Port)}]}]});
process_iq(IQ) ->
    xmpp:make_error(IQ#iq{sub_els = []}, xmpp:err_bad_request()).

ip_text({0, 0, 0, 0, 0, 16#ffff, AB, CD}) ->
    ip_text({AB bsr 8, AB band 255, CD bsr 8, CD band 255});
ip_text(IP) ->
    list_to_binary(inet:ntoa(IP)).
