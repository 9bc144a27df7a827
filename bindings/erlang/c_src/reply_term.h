/*
 * Turning the reply text of sic_handle_iq into fast_xml's #xmlel{} term, so
 * that ejabberd can route it without running its own XML parser again.
 */
#ifndef XMPP_SIC_REPLY_TERM_H
#define XMPP_SIC_REPLY_TERM_H

#include <stddef.h>

#include <erl_nif.h>

struct reply_atoms {
    ERL_NIF_TERM xmlel;
    ERL_NIF_TERM xmlcdata;
};

/* Fills the parser's tables; call once before any other thread parses. */
void reply_term_init(void);

/*
 * Builds {xmlel, Name, [{Name, Value}], Children} from one serialised
 * element, with references decoded the way fast_xml decodes them. The text
 * is decoded in place, so `text` is clobbered. Returns 0 (and builds
 * nothing useful) when the text is not a single element this small parser
 * accepts: no comments, processing instructions, CDATA sections or DTDs,
 * nesting of at most a few levels, at most a few attributes and children.
 * The library's replies are far inside these limits.
 */
int reply_to_xmlel(ErlNifEnv *env, const struct reply_atoms *atoms,
                   unsigned char *text, size_t len, ERL_NIF_TERM *out);

#endif /* XMPP_SIC_REPLY_TERM_H */
