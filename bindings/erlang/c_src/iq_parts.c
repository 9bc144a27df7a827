/*
 * Only the IQ's children and the payload's own attributes and children are
 * visited, never anything below them: the library needs the shape, not the
 * content, so a payload nested to any depth costs what a flat one does, and
 * nothing here recurses.
 */
#include <string.h>

#include "iq_parts.h"

enum node_kind { NODE_INVALID, NODE_ELEMENT, NODE_TEXT };

/* An #xmlel{} gives its fields, an {xmlcdata, Text} its binary. */
static enum node_kind read_node(ErlNifEnv *env, const struct xml_atoms *atoms, ERL_NIF_TERM term,
                                const ERL_NIF_TERM **fields, ErlNifBinary *text)
{
    int arity;

    if (!enif_get_tuple(env, term, &arity, fields))
        return NODE_INVALID;
    if (arity == 4 && enif_is_identical((*fields)[0], atoms->xmlel))
        return NODE_ELEMENT;
    if (arity == 2 && enif_is_identical((*fields)[0], atoms->xmlcdata) &&
        enif_inspect_binary(env, (*fields)[1], text))
        return NODE_TEXT;
    return NODE_INVALID;
}

/* XML's whitespace (the S production); anything else is content. */
/* The library says what XML whitespace is; the bytes it reads count as
 * work for the scheduler. */
static int is_blank(const ErlNifBinary *text, size_t *work)
{
    *work += text->size / 64;
    return sic_text_is_blank((const char *)text->data, text->size);
}

static int is_declaration(const ErlNifBinary *name)
{
    return (name->size == 5 && memcmp(name->data, "xmlns", 5) == 0) ||
           (name->size > 6 && memcmp(name->data, "xmlns:", 6) == 0);
}

/*
 * The namespace is the element's own xmlns attribute, which is what
 * ejabberd routed the IQ on (xmpp:get_ns/1 reads the first one); its stream
 * parser has already turned a prefixed name into a local name and an xmlns.
 */
static int read_attrs(ErlNifEnv *env, ERL_NIF_TERM list, struct sic_iq *iq, size_t *work)
{
    ERL_NIF_TERM head;
    const ERL_NIF_TERM *pair;
    ErlNifBinary name, value;
    int arity;

    while (enif_get_list_cell(env, list, &head, &list)) {
        (*work)++;
        if (!enif_get_tuple(env, head, &arity, &pair) || arity != 2 ||
            !enif_inspect_binary(env, pair[0], &name) || !enif_inspect_binary(env, pair[1], &value))
            return 0;
        if (!is_declaration(&name)) {
            iq->payload_shape |= SIC_SHAPE_ATTRIBUTES;
        } else if (name.size == 5 && iq->payload_ns == NULL) {
            iq->payload_ns = (const char *)value.data;
            iq->payload_ns_len = value.size;
        }
    }
    return enif_is_empty_list(env, list);
}

static int read_payload_children(ErlNifEnv *env, const struct xml_atoms *atoms, ERL_NIF_TERM list,
                                 struct sic_iq *iq, size_t *work)
{
    ERL_NIF_TERM head;
    const ERL_NIF_TERM *fields;
    ErlNifBinary text;

    while (enif_get_list_cell(env, list, &head, &list)) {
        (*work)++;
        switch (read_node(env, atoms, head, &fields, &text)) {
        case NODE_ELEMENT:
            iq->payload_shape |= SIC_SHAPE_CHILDREN;
            break;
        case NODE_TEXT:
            if (!is_blank(&text, work))
                iq->payload_shape |= SIC_SHAPE_TEXT;
            break;
        default:
            return 0;
        }
    }
    return enif_is_empty_list(env, list);
}

static int read_payload(ErlNifEnv *env, const struct xml_atoms *atoms, const ERL_NIF_TERM *fields,
                        struct sic_iq *iq, size_t *work)
{
    ErlNifBinary name;

    if (!enif_inspect_binary(env, fields[1], &name))
        return 0;
    /* An empty name is no name: (NULL, 0) tells the library there is none. */
    iq->payload_name = name.size ? (const char *)name.data : NULL;
    iq->payload_name_len = name.size;
    return read_attrs(env, fields[2], iq, work) &&
           read_payload_children(env, atoms, fields[3], iq, work);
}

int iq_parts_read(ErlNifEnv *env, const struct xml_atoms *atoms, ERL_NIF_TERM children,
                  struct sic_iq *iq, size_t *work)
{
    ERL_NIF_TERM head;
    const ERL_NIF_TERM *fields;
    ErlNifBinary text;
    int seen_payload = 0;

    iq->payload_name = iq->payload_ns = NULL;
    iq->payload_name_len = iq->payload_ns_len = 0;
    iq->payload_shape = 0;
    while (enif_get_list_cell(env, children, &head, &children)) {
        (*work)++;
        switch (read_node(env, atoms, head, &fields, &text)) {
        case NODE_ELEMENT:
            if (seen_payload)
                iq->payload_shape |= SIC_SHAPE_SIBLINGS;
            else if (!read_payload(env, atoms, fields, iq, work))
                return 0;
            seen_payload = 1;
            break;
        case NODE_TEXT:
            if (!is_blank(&text, work))
                iq->payload_shape |= SIC_SHAPE_SIBLINGS;
            break;
        default:
            return 0;
        }
    }
    return enif_is_empty_list(env, children);
}
