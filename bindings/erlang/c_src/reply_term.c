#include <string.h>

#include "reply_term.h"

/*
 * The replies are at most three levels deep with at most five attributes
 * and two children per element; the limits leave room for future reply
 * forms while keeping every array on the stack and the recursion bounded.
 */
#define MAX_DEPTH 8
#define MAX_ATTRS 16
#define MAX_CHILDREN 16

/* Longest reference we decode: "&#x10FFFF;" without the '&'. */
#define MAX_REF_LEN 9

enum data_context { TEXT, ATTRIBUTE };

struct cursor {
    ErlNifEnv *env;
    const struct reply_atoms *atoms;
    unsigned char *p;
    unsigned char *end;
};

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_space(struct cursor *c)
{
    while (c->p < c->end && is_space(*c->p))
        c->p++;
}

/* Byte classes, looked up instead of compared: this parser runs per IQ. */
enum { NAME_START = 1, NAME_CHAR = 2, SPECIAL_TEXT = 4, SPECIAL_ATTR = 8 };
static unsigned char byte_class[256];

void reply_term_init(void)
{
    int c;
    for (c = 0; c < 256; c++) {
        unsigned char k = 0;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80)
            k |= NAME_START | NAME_CHAR;
        if ((c >= '0' && c <= '9') || c == '-' || c == '.')
            k |= NAME_CHAR;
        if (c == '&' || c == '<' || c == '\r')
            k |= SPECIAL_TEXT | SPECIAL_ATTR;
        if (c == '\n' || c == '\t')
            k |= SPECIAL_ATTR;
        byte_class[c] = k;
    }
}

static int is_name_start(unsigned char c)
{
    return byte_class[c] & NAME_START;
}

static int is_name_char(unsigned char c)
{
    return byte_class[c] & NAME_CHAR;
}

static int read_name(struct cursor *c, unsigned char **start, size_t *len)
{
    if (c->p >= c->end || !is_name_start(*c->p))
        return 0;
    *start = c->p;
    while (c->p < c->end && is_name_char(*c->p))
        c->p++;
    *len = (size_t)(c->p - *start);
    return 1;
}

static int is_xml_char(unsigned long cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

static size_t put_utf8(unsigned char *dst, unsigned long cp)
{
    if (cp < 0x80) {
        dst[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (unsigned char)(0xC0 | (cp >> 6));
        dst[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (unsigned char)(0xE0 | (cp >> 12));
        dst[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        dst[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (unsigned char)(0xF0 | (cp >> 18));
    dst[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    dst[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    dst[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* `ref` is what stands between '&' and ';'. */
static int decode_reference(const unsigned char *ref, size_t len, unsigned long *cp)
{
    static const struct { const char *name; unsigned char ch; } named[] = {
        {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''},
    };
    size_t i;
    unsigned long value = 0;
    int hex;

    for (i = 0; i < sizeof named / sizeof *named; i++) {
        if (strlen(named[i].name) == len && memcmp(named[i].name, ref, len) == 0) {
            *cp = named[i].ch;
            return 1;
        }
    }
    if (len < 2 || ref[0] != '#')
        return 0;
    hex = ref[1] == 'x';
    i = hex ? 2 : 1;
    if (i == len)
        return 0;
    for (; i < len; i++) {
        unsigned char d = ref[i];
        unsigned digit;
        if (d >= '0' && d <= '9')
            digit = d - '0';
        else if (hex && d >= 'a' && d <= 'f')
            digit = d - 'a' + 10;
        else if (hex && d >= 'A' && d <= 'F')
            digit = d - 'A' + 10;
        else
            return 0;
        value = value * (hex ? 16 : 10) + digit;
        /* Stop before the value can overflow; anything this big is no Char. */
        if (value > 0x10FFFF)
            return 0;
    }
    if (!is_xml_char(value))
        return 0;
    *cp = value;
    return 1;
}

/*
 * Decodes [s, s + len) in place, which is safe because no reference is
 * shorter than the UTF-8 it stands for. Line ends are normalised first, then
 * literal whitespace in attribute values becomes a space (XML 1.0 §2.11,
 * §3.3.3), so the result is what expat (inside fast_xml) would report.
 */
static int decode_data(unsigned char *s, size_t len, enum data_context ctx, size_t *out_len)
{
    unsigned char special = ctx == ATTRIBUTE ? SPECIAL_ATTR : SPECIAL_TEXT;
    size_t r = 0, w;

    /* Most values have nothing to decode: find the first byte that needs work. */
    while (r < len && !(byte_class[s[r]] & special))
        r++;
    w = r;
    while (r < len) {
        unsigned char b = s[r];
        if (b == '<')
            return 0;
        if (b == '\r') {
            r += (r + 1 < len && s[r + 1] == '\n') ? 2 : 1;
            s[w++] = ctx == ATTRIBUTE ? ' ' : '\n';
        } else if ((b == '\n' || b == '\t') && ctx == ATTRIBUTE) {
            r++;
            s[w++] = ' ';
        } else if (b == '&') {
            size_t semi = r + 1;
            unsigned long cp;
            while (semi < len && semi - r - 1 <= MAX_REF_LEN && s[semi] != ';')
                semi++;
            if (semi >= len || s[semi] != ';')
                return 0;
            if (!decode_reference(s + r + 1, semi - r - 1, &cp))
                return 0;
            r = semi + 1;
            w += put_utf8(s + w, cp);
        } else {
            s[w++] = b;
            r++;
        }
    }
    *out_len = w;
    return 1;
}

static ERL_NIF_TERM copy_binary(ErlNifEnv *env, const unsigned char *data, size_t len)
{
    ERL_NIF_TERM term;
    unsigned char *dst = enif_make_new_binary(env, len, &term);
    if (len > 0)
        memcpy(dst, data, len);
    return term;
}

static int expect(struct cursor *c, unsigned char ch)
{
    if (c->p >= c->end || *c->p != ch)
        return 0;
    c->p++;
    return 1;
}

static int parse_attribute(struct cursor *c, ERL_NIF_TERM *out)
{
    unsigned char *name, *value, quote;
    size_t name_len, value_len;

    if (!read_name(c, &name, &name_len))
        return 0;
    skip_space(c);
    if (!expect(c, '='))
        return 0;
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    quote = *c->p++;
    value = c->p;
    c->p = memchr(value, quote, (size_t)(c->end - value));
    if (c->p == NULL)
        return 0;
    if (!decode_data(value, (size_t)(c->p - value), ATTRIBUTE, &value_len))
        return 0;
    c->p++;
    {
        ERL_NIF_TERM pair[2];
        pair[0] = copy_binary(c->env, name, name_len);
        pair[1] = copy_binary(c->env, value, value_len);
        *out = enif_make_tuple_from_array(c->env, pair, 2);
    }
    return 1;
}

static int parse_text(struct cursor *c, ERL_NIF_TERM *out)
{
    unsigned char *start = c->p;
    unsigned char *lt = memchr(start, '<', (size_t)(c->end - start));
    size_t len;

    c->p = lt ? lt : c->end;
    if (!decode_data(start, (size_t)(c->p - start), TEXT, &len))
        return 0;
    {
        ERL_NIF_TERM cdata[2];
        cdata[0] = c->atoms->xmlcdata;
        cdata[1] = copy_binary(c->env, start, len);
        *out = enif_make_tuple_from_array(c->env, cdata, 2);
    }
    return 1;
}

static int parse_element(struct cursor *c, int depth, ERL_NIF_TERM *out)
{
    ERL_NIF_TERM attrs[MAX_ATTRS], children[MAX_CHILDREN], name_term;
    unsigned nattrs = 0, nchildren = 0;
    unsigned char *name, *end_name;
    size_t name_len, end_name_len;

    if (depth > MAX_DEPTH || !expect(c, '<') || !read_name(c, &name, &name_len))
        return 0;
    for (;;) {
        unsigned char *before = c->p;
        skip_space(c);
        if (c->p >= c->end)
            return 0;
        if (*c->p == '/' || *c->p == '>')
            break;
        /* Attributes must be separated from the name and each other. */
        if (c->p == before || nattrs == MAX_ATTRS)
            return 0;
        if (!parse_attribute(c, &attrs[nattrs++]))
            return 0;
    }
    if (*c->p == '/') {
        c->p++;
        if (!expect(c, '>'))
            return 0;
    } else {
        c->p++;
        for (;;) {
            if (c->p >= c->end)
                return 0;
            if (*c->p == '<' && c->p + 1 < c->end && c->p[1] == '/')
                break;
            if (nchildren == MAX_CHILDREN)
                return 0;
            if (*c->p == '<') {
                if (!parse_element(c, depth + 1, &children[nchildren++]))
                    return 0;
            } else if (!parse_text(c, &children[nchildren++])) {
                return 0;
            }
        }
        c->p += 2;
        if (!read_name(c, &end_name, &end_name_len))
            return 0;
        if (end_name_len != name_len || memcmp(end_name, name, name_len) != 0)
            return 0;
        skip_space(c);
        if (!expect(c, '>'))
            return 0;
    }
    /* Names are never decoded in place, so they are still intact here. */
    name_term = copy_binary(c->env, name, name_len);
    {
        ERL_NIF_TERM el[4];
        el[0] = c->atoms->xmlel;
        el[1] = name_term;
        el[2] = enif_make_list_from_array(c->env, attrs, nattrs);
        el[3] = enif_make_list_from_array(c->env, children, nchildren);
        *out = enif_make_tuple_from_array(c->env, el, 4);
    }
    return 1;
}

int reply_to_xmlel(ErlNifEnv *env, const struct reply_atoms *atoms,
                   unsigned char *text, size_t len, ERL_NIF_TERM *out)
{
    struct cursor c = {env, atoms, text, text + len};

    if (!parse_element(&c, 1, out))
        return 0;
    return c.p == c.end;
}
