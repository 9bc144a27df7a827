/*
 * Reads an IQ's children, as fast_xml and ejabberd hold them, into the
 * parts of a struct sic_iq: the payload's name, namespace and shape.
 */
#ifndef XMPP_SIC_IQ_PARTS_H
#define XMPP_SIC_IQ_PARTS_H

#include <stddef.h>

#include <erl_nif.h>

#include "xmpp_sic.h"

/* The record tags of fast_xml's terms, made in the NIF's load(). */
struct xml_atoms {
    ERL_NIF_TERM xmlel;
    ERL_NIF_TERM xmlcdata;
};

/*
 * `children` is the IQ's child list ([#xmlel{} | {xmlcdata, Text}]).
 * Fills iq->payload_name, payload_ns and payload_shape, pointing into the
 * terms (valid as long as they are), and adds to *work the number of terms
 * and text bytes visited. Returns 0 when a term is not of those types: the
 * caller raises badarg.
 */
int iq_parts_read(ErlNifEnv *env, const struct xml_atoms *atoms, ERL_NIF_TERM children,
                  struct sic_iq *iq, size_t *work);

#endif
