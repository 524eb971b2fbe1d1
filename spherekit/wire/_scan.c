/*
 * spherekit.wire._scan: the bulk-read fast path, compiled.
 *
 * scan(body, decoders, moref) reads one RetrievePropertiesEx / ContinueRetrievePropertiesEx
 * SOAP answer straight from its bytes, without building an XML tree, and returns
 *
 *     (rows, token, fragments, nsdecl)
 *
 * rows       [(MoRef, {path: value}), ...] in document order
 * token      the continuation token (str) or None
 * fragments  [(row index, path or None, start, end), ...]: values this scanner does not
 *            decode itself (data objects, arrays, a primitive whose text its decoder
 *            refused) and missingSet elements (path None). body[start:end] is the whole
 *            element; the caller parses them all at once with the hardened lxml parser and
 *            decodes them with the general codec. The row's dict holds None in that
 *            path's place, so its key order is the document's.
 * nsdecl     the namespace declarations of the envelope, body and response elements, as
 *            attribute text, for the document the caller wraps the fragments in.
 *
 * It returns None for anything outside the shape vSphere sends (a fault, a DOCTYPE,
 * comments, CDATA, prefixes on payload elements, unexpected attributes or elements, text
 * where elements belong, an XML declaration naming another encoding, ...): the caller then
 * reads the answer with lxml, which either handles it or reports the error. The scanner
 * is stricter than XML, never looser: a document it accepts is well-formed, so both paths
 * give the same rows (tests/unit/test_scan.py checks that on every shape it knows).
 *
 * `decoders` maps an xsi:type attribute value to a function str -> value, or None when the
 * type is not text alone (spherekit.wire.codec.TEXT_DECODERS). `moref` is the MoRef class.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define NS_VIM "urn:vim25"

#define MAX_ATTRS 8
#define MAX_NS 16
#define CACHE 32

typedef struct {
    const char *s;
    Py_ssize_t n;
} Span;

typedef struct {
    Span name;
    Span value;
} Attr;

typedef struct {
    Span name; /* the qualified name */
    Attr attrs[MAX_ATTRS];
    int nattrs;
    int empty; /* <x/> */
} Tag;

typedef struct {
    Span prefix; /* n == 0: the default namespace */
    Span uri;
} Ns;

/* a small cache of str objects made from byte spans (property names, types) */
typedef struct {
    Span key[CACHE];
    PyObject *val[CACHE];
    PyObject *aux[CACHE]; /* borrowed, per slot (the decoder of an xsi:type) */
    int n;
} Cache;

typedef struct {
    const char *base, *p, *end;
    Ns ns[MAX_NS];
    int nns;
    PyObject *nsdecl; /* bytearray */
    Cache names, types, xsi;
    PyObject *decoders, *moref;
    PyObject *str_type; /* the builtin str: its values need no call */
    int failed; /* a Python exception is set */
} Scanner;

/* -- small helpers ------------------------------------------------------------------- */

static int span_eq(Span a, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)a.n == n && memcmp(a.s, lit, n) == 0;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void skip_ws(Scanner *sc) {
    while (sc->p < sc->end && is_ws(*sc->p)) sc->p++;
}

static int is_name_char(unsigned char c) {
    return !(is_ws((char)c) || c == '/' || c == '>' || c == '=' || c == '<' || c == '"' ||
             c == '\'' || c == '&');
}

/* the local part of a qualified name, and its prefix (n == 0 when none) */
static Span local_part(Span q, Span *prefix) {
    for (Py_ssize_t i = 0; i < q.n; i++) {
        if (q.s[i] == ':') {
            prefix->s = q.s;
            prefix->n = i;
            Span l = {q.s + i + 1, q.n - i - 1};
            return l;
        }
    }
    prefix->s = q.s;
    prefix->n = 0;
    return q;
}

/* the namespace a prefix is bound to (n == -1: unbound) */
static Span ns_lookup(Scanner *sc, Span prefix) {
    for (int i = sc->nns - 1; i >= 0; i--) {
        if (sc->ns[i].prefix.n == prefix.n && memcmp(sc->ns[i].prefix.s, prefix.s, prefix.n) == 0)
            return sc->ns[i].uri;
    }
    Span none = {NULL, -1};
    return none;
}

static int in_ns(Scanner *sc, Span qname, const char *local, const char *uri) {
    Span prefix;
    Span l = local_part(qname, &prefix);
    if (!span_eq(l, local)) return 0;
    Span u = ns_lookup(sc, prefix);
    return u.n >= 0 && span_eq(u, uri);
}

/* A qualified name as the scanner accepts it: ASCII NCName, optionally prefixed. */
static int name_ok(Span n) {
    int start = 1, colons = 0;
    for (Py_ssize_t i = 0; i < n.n; i++) {
        char c = n.s[i];
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (c == ':') {
            if (start || ++colons > 1) return 0;
            start = 1;
        } else if (start) {
            if (!letter) return 0;
            start = 0;
        } else if (!(letter || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
            return 0;
        }
    }
    return n.n > 0 && !start;
}

/*
 * Read a start tag at sc->p ('<' expected). Returns 1, or 0 when it is not a plain start
 * tag (a comment, CDATA, PI, end tag, bad syntax, too many attributes).
 */
static int read_start_tag(Scanner *sc, Tag *t) {
    const char *p = sc->p, *end = sc->end;
    if (p >= end || *p != '<') return 0;
    p++;
    const char *n0 = p;
    while (p < end && is_name_char((unsigned char)*p) && *p != '!' && *p != '?') p++;
    t->name.s = n0;
    t->name.n = p - n0;
    if (!name_ok(t->name)) return 0;
    t->nattrs = 0;
    t->empty = 0;
    for (;;) {
        int had_ws = 0;
        while (p < end && is_ws(*p)) {
            p++;
            had_ws = 1;
        }
        if (p >= end) return 0;
        if (*p == '>') {
            sc->p = p + 1;
            return 1;
        }
        if (*p == '/') {
            if (p + 1 < end && p[1] == '>') {
                t->empty = 1;
                sc->p = p + 2;
                return 1;
            }
            return 0;
        }
        if (!had_ws || t->nattrs == MAX_ATTRS) return 0;
        Attr *a = &t->attrs[t->nattrs];
        const char *a0 = p;
        while (p < end && is_name_char((unsigned char)*p)) p++;
        a->name.s = a0;
        a->name.n = p - a0;
        if (!name_ok(a->name)) return 0;
        while (p < end && is_ws(*p)) p++;
        if (p >= end || *p != '=') return 0;
        p++;
        while (p < end && is_ws(*p)) p++;
        if (p >= end || (*p != '"' && *p != '\'')) return 0;
        char q = *p++;
        const char *v0 = p;
        const char *v1 = memchr(p, q, end - p);
        if (v1 == NULL) return 0;
        for (const char *c = v0; c < v1; c++) {
            /* '<' is illegal; '&' and whitespace other than ' ' would need normalising;
               names, types and namespaces are ASCII */
            unsigned char u = (unsigned char)*c;
            if (u == '<' || u == '&' || u < 0x20 || u >= 0x80) return 0;
        }
        a->value.s = v0;
        a->value.n = v1 - v0;
        for (int i = 0; i < t->nattrs; i++) { /* a repeated attribute is not well-formed */
            if (t->attrs[i].name.n == a->name.n &&
                memcmp(t->attrs[i].name.s, a->name.s, a->name.n) == 0)
                return 0;
        }
        t->nattrs++;
        p = v1 + 1;
    }
}

/* Expect "</name>" (optional whitespace before '>') at sc->p. */
static int read_end_tag(Scanner *sc, Span name) {
    const char *p = sc->p;
    if (sc->end - p < name.n + 3 || p[0] != '<' || p[1] != '/') return 0;
    if (memcmp(p + 2, name.s, name.n) != 0) return 0;
    p += 2 + name.n;
    while (p < sc->end && is_ws(*p)) p++;
    if (p >= sc->end || *p != '>') return 0;
    sc->p = p + 1;
    return 1;
}

static int read_end_lit(Scanner *sc, const char *name) {
    Span s = {name, (Py_ssize_t)strlen(name)};
    return read_end_tag(sc, s);
}

static int is_xmlns(Span name, Span *prefix) {
    if (name.n >= 5 && memcmp(name.s, "xmlns", 5) == 0) {
        if (name.n == 5) {
            prefix->s = name.s;
            prefix->n = 0;
            return 1;
        }
        if (name.s[5] == ':') {
            prefix->s = name.s + 6;
            prefix->n = name.n - 6;
            return 1;
        }
    }
    return 0;
}

/* Record the namespace declarations of a wrapper element; 0 when it cannot be followed. */
static int declare(Scanner *sc, Tag *t) {
    for (int i = 0; i < t->nattrs; i++) {
        Span prefix;
        if (!is_xmlns(t->attrs[i].name, &prefix)) continue;
        Span uri = t->attrs[i].value;
        if (memchr(uri.s, '"', uri.n) != NULL) return 0; /* copied below in double quotes */
        if (prefix.n > 0 && (uri.n == 0 || span_eq(prefix, "xml") || span_eq(prefix, "xmlns")))
            return 0;
        Span known = ns_lookup(sc, prefix);
        if (known.n >= 0) {
            if (known.n == uri.n && memcmp(known.s, uri.s, uri.n) == 0) continue;
            return 0; /* a prefix bound again to another namespace */
        }
        if (sc->nns == MAX_NS) return 0;
        sc->ns[sc->nns].prefix = prefix;
        sc->ns[sc->nns].uri = uri;
        sc->nns++;
        PyObject *decl = PyBytes_FromStringAndSize(NULL, t->attrs[i].name.n + uri.n + 4);
        if (decl == NULL) {
            sc->failed = 1;
            return 0;
        }
        char *d = PyBytes_AS_STRING(decl);
        memcpy(d, " ", 1);
        memcpy(d + 1, t->attrs[i].name.s, t->attrs[i].name.n);
        memcpy(d + 1 + t->attrs[i].name.n, "=\"", 2);
        memcpy(d + 3 + t->attrs[i].name.n, uri.s, uri.n);
        memcpy(d + 3 + t->attrs[i].name.n + uri.n, "\"", 1);
        Py_ssize_t len = PyByteArray_GET_SIZE(sc->nsdecl);
        int rc = PyByteArray_Resize(sc->nsdecl, len + PyBytes_GET_SIZE(decl));
        if (rc == 0) memcpy(PyByteArray_AS_STRING(sc->nsdecl) + len, d, PyBytes_GET_SIZE(decl));
        Py_DECREF(decl);
        if (rc != 0) {
            sc->failed = 1;
            return 0;
        }
    }
    /* every other prefixed attribute must be bound, and no two may be the same name */
    for (int i = 0; i < t->nattrs; i++) {
        Span prefix, l = local_part(t->attrs[i].name, &prefix);
        Span pp;
        if (is_xmlns(t->attrs[i].name, &pp) || prefix.n == 0) continue;
        Span u = ns_lookup(sc, prefix);
        if (u.n < 0) return 0;
        for (int j = 0; j < i; j++) {
            Span prefix2, l2 = local_part(t->attrs[j].name, &prefix2);
            if (prefix2.n == 0 || is_xmlns(t->attrs[j].name, &pp)) continue;
            Span u2 = ns_lookup(sc, prefix2);
            if (l.n == l2.n && memcmp(l.s, l2.s, l.n) == 0 && u.n == u2.n &&
                memcmp(u.s, u2.s, u.n) == 0)
                return 0;
        }
    }
    return 1;
}

/* A payload element: unprefixed, no attributes (0 otherwise). */
static int plain(Tag *t, const char *name) { return t->nattrs == 0 && span_eq(t->name, name); }

/* -- text ---------------------------------------------------------------------------- */

static int xml_char(unsigned long c) {
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

/*
 * Text up to the next '<'. Sets *out to a new str (NULL for no text at all, as lxml's
 * .text). Returns 1, or 0 when the text is outside what the scanner reads (an entity it
 * does not know, a CR, a character XML forbids, bad UTF-8, "]]>").
 */
static int read_text(Scanner *sc, PyObject **out) {
    const char *p = sc->p;
    const char *lt = memchr(p, '<', sc->end - p);
    if (lt == NULL) return 0;
    *out = NULL;
    if (lt == p) return 1;
    int amp = 0;
    for (const char *c = p; c < lt; c++) {
        unsigned char u = (unsigned char)*c;
        if (u < 0x20) {
            if (u != '\t' && u != '\n') return 0; /* CR needs normalising; others illegal */
        } else if (u == '&') {
            amp = 1;
        } else if (u == '>' && c - p >= 2 && c[-1] == ']' && c[-2] == ']') {
            return 0;
        } else if (u == 0xEF && lt - c >= 3 && (unsigned char)c[1] == 0xBF &&
                   ((unsigned char)c[2] == 0xBE || (unsigned char)c[2] == 0xBF)) {
            return 0; /* U+FFFE, U+FFFF */
        }
    }
    if (!amp) {
        PyObject *s = PyUnicode_DecodeUTF8(p, lt - p, "strict");
        if (s == NULL) {
            PyErr_Clear();
            return 0;
        }
        *out = s;
        sc->p = lt;
        return 1;
    }
    /* entities: decode into a buffer, then UTF-8 */
    char *buf = PyMem_Malloc(lt - p);
    if (buf == NULL) {
        PyErr_NoMemory();
        sc->failed = 1;
        return 0;
    }
    char *d = buf;
    const char *c = p;
    while (c < lt) {
        if (*c != '&') {
            *d++ = *c++;
            continue;
        }
        const char *semi = memchr(c, ';', lt - c);
        if (semi == NULL) goto bad;
        Span e = {c + 1, semi - c - 1};
        if (span_eq(e, "lt")) *d++ = '<';
        else if (span_eq(e, "gt")) *d++ = '>';
        else if (span_eq(e, "amp")) *d++ = '&';
        else if (span_eq(e, "quot")) *d++ = '"';
        else if (span_eq(e, "apos")) *d++ = '\'';
        else if (e.n >= 2 && e.s[0] == '#') {
            unsigned long v = 0;
            int hex = e.s[1] == 'x';
            Py_ssize_t i = hex ? 2 : 1;
            if (i == e.n || e.n - i > 8) goto bad;
            for (; i < e.n; i++) {
                char ch = e.s[i];
                int digit;
                if (ch >= '0' && ch <= '9') digit = ch - '0';
                else if (hex && ch >= 'a' && ch <= 'f') digit = ch - 'a' + 10;
                else if (hex && ch >= 'A' && ch <= 'F') digit = ch - 'A' + 10;
                else goto bad;
                v = v * (hex ? 16 : 10) + digit;
            }
            if (!xml_char(v)) goto bad;
            /* UTF-8 of v: never longer than the reference itself (at least 4 bytes) */
            if (v < 0x80) *d++ = (char)v;
            else if (v < 0x800) {
                *d++ = (char)(0xC0 | (v >> 6));
                *d++ = (char)(0x80 | (v & 0x3F));
            } else if (v < 0x10000) {
                *d++ = (char)(0xE0 | (v >> 12));
                *d++ = (char)(0x80 | ((v >> 6) & 0x3F));
                *d++ = (char)(0x80 | (v & 0x3F));
            } else {
                *d++ = (char)(0xF0 | (v >> 18));
                *d++ = (char)(0x80 | ((v >> 12) & 0x3F));
                *d++ = (char)(0x80 | ((v >> 6) & 0x3F));
                *d++ = (char)(0x80 | (v & 0x3F));
            }
        } else goto bad;
        c = semi + 1;
    }
    PyObject *s = PyUnicode_DecodeUTF8(buf, d - buf, "strict");
    PyMem_Free(buf);
    if (s == NULL) {
        PyErr_Clear();
        return 0;
    }
    *out = s;
    sc->p = lt;
    return 1;
bad:
    PyMem_Free(buf);
    return 0;
}

/* Whitespace only, then '<' (text between elements). */
static int only_ws(Scanner *sc) {
    skip_ws(sc);
    return sc->p < sc->end && *sc->p == '<';
}

/* A str for a span, shared between equal spans (names and types repeat 10,000 times). */
static PyObject *cached(Scanner *sc, Cache *c, Span s, int *slot) {
    for (int i = 0; i < c->n; i++) {
        if (c->key[i].n == s.n && memcmp(c->key[i].s, s.s, s.n) == 0) {
            if (slot) *slot = i;
            return c->val[i];
        }
    }
    PyObject *v = PyUnicode_DecodeUTF8(s.s, s.n, "strict");
    if (v == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (c->n == CACHE) { /* full: the last slot takes turns (containers hold their own refs) */
        Py_DECREF(c->val[CACHE - 1]);
        c->key[CACHE - 1] = s;
        c->val[CACHE - 1] = v;
        c->aux[CACHE - 1] = NULL;
        if (slot) *slot = CACHE - 1;
        return v;
    }
    c->key[c->n] = s;
    c->val[c->n] = v;
    c->aux[c->n] = NULL;
    if (slot) *slot = c->n;
    c->n++;
    return v;
}

static void cache_clear(Cache *c) {
    for (int i = 0; i < c->n; i++) Py_DECREF(c->val[i]);
    c->n = 0;
}

static PyObject *new_moref(Scanner *sc, PyObject *type, PyObject *value) {
    PyTypeObject *cls = (PyTypeObject *)sc->moref;
    PyObject *r = cls->tp_alloc(cls, 2);
    if (r == NULL) {
        sc->failed = 1;
        return NULL;
    }
    Py_INCREF(type);
    PyTuple_SET_ITEM(r, 0, type);
    PyTuple_SET_ITEM(r, 1, value); /* steals */
    return r;
}

/*
 * Skip one element whose start tag was read (t), to its matching end tag: for values the
 * caller decodes with lxml. Only the nesting is followed here; lxml checks the rest.
 */
static int skip_element(Scanner *sc, Tag *t) {
    if (t->empty) return 1;
    int depth = 1;
    while (depth > 0) {
        const char *lt = memchr(sc->p, '<', sc->end - sc->p);
        if (lt == NULL || lt + 1 >= sc->end) return 0;
        sc->p = lt;
        if (lt[1] == '/') {
            const char *gt = memchr(lt, '>', sc->end - lt);
            if (gt == NULL) return 0;
            sc->p = gt + 1;
            depth--;
        } else {
            Tag inner;
            if (!read_start_tag(sc, &inner)) return 0; /* comments, CDATA, PIs: not ours */
            if (!inner.empty) depth++;
        }
    }
    return 1;
}

/* -- the payload --------------------------------------------------------------------- */

static int add_fragment(Scanner *sc, PyObject *frags, Py_ssize_t row, PyObject *name,
                        const char *start) {
    PyObject *f = Py_BuildValue("(nOnn)", row, name ? name : Py_None, (Py_ssize_t)(start - sc->base),
                                (Py_ssize_t)(sc->p - sc->base));
    if (f == NULL || PyList_Append(frags, f) != 0) {
        Py_XDECREF(f);
        sc->failed = 1;
        return 0;
    }
    Py_DECREF(f);
    return 1;
}

/* One <val>, its start tag read: decode it or record it as a fragment. */
static int read_val(Scanner *sc, Tag *t, const char *start, PyObject *values, PyObject *name,
                    PyObject *frags, Py_ssize_t row) {
    Span xsi = {NULL, -1}, mtype = {NULL, -1};
    /* prefixes declared on <val> itself (Go's encoder declares the xsi prefix on each) */
    Ns local[4];
    int nlocal = 0;
    for (int i = 0; i < t->nattrs; i++) {
        Span prefix;
        if (!is_xmlns(t->attrs[i].name, &prefix)) continue;
        Span uri = t->attrs[i].value;
        if (prefix.n == 0 || uri.n == 0 || span_eq(prefix, "xml") || span_eq(prefix, "xmlns") ||
            nlocal == 4)
            return 0; /* a default namespace on <val> would move it out of urn:vim25 */
        local[nlocal].prefix = prefix;
        local[nlocal].uri = uri;
        nlocal++;
    }
    for (int i = 0; i < t->nattrs; i++) {
        Span prefix, l = local_part(t->attrs[i].name, &prefix);
        Span pp;
        if (is_xmlns(t->attrs[i].name, &pp)) continue;
        if (prefix.n == 0 && span_eq(l, "type")) {
            mtype = t->attrs[i].value;
        } else if (prefix.n > 0 && span_eq(l, "type")) {
            Span u = {NULL, -1};
            for (int j = nlocal - 1; j >= 0 && u.n < 0; j--)
                if (local[j].prefix.n == prefix.n && memcmp(local[j].prefix.s, prefix.s, prefix.n) == 0)
                    u = local[j].uri;
            if (u.n < 0) u = ns_lookup(sc, prefix);
            if (!(u.n >= 0 && span_eq(u, NS_XSI)) || xsi.n >= 0) return 0;
            xsi = t->attrs[i].value;
        } else {
            return 0; /* anything else on <val>: the general path */
        }
    }
    PyObject *text = NULL;
    const char *after_tag = sc->p;
    if (!t->empty) {
        if (!read_text(sc, &text)) return 0;
        if (!read_end_lit(sc, "val")) { /* child elements: a fragment for lxml */
            Py_XDECREF(text);
            sc->p = after_tag;
            if (!skip_element(sc, t)) return 0;
            if (PyDict_SetItem(values, name, Py_None) != 0) {
                sc->failed = 1;
                return 0;
            }
            return add_fragment(sc, frags, row, name, start);
        }
    }
    PyObject *value = NULL;
    if (xsi.n >= 0) {
        int slot;
        PyObject *key = cached(sc, &sc->xsi, xsi, &slot);
        if (key == NULL) goto fragment_text;
        PyObject *f = sc->xsi.aux[slot];
        if (f == NULL) {
            f = PyObject_GetItem(sc->decoders, key); /* the dict fills itself on a miss */
            if (f == NULL) {
                Py_XDECREF(text);
                sc->failed = 1;
                return 0;
            }
            Py_DECREF(f); /* the decoders dict keeps it */
            sc->xsi.aux[slot] = f;
        }
        if (f != Py_None) {
            if (text == NULL) {
                text = PyUnicode_New(0, 0);
                if (text == NULL) {
                    sc->failed = 1;
                    return 0;
                }
            }
            if (f == sc->str_type) {
                value = text;
                text = NULL;
            } else {
                value = PyObject_CallOneArg(f, text);
                if (value == NULL) {
                    if (PyErr_ExceptionMatches(PyExc_ValueError) ||
                        PyErr_ExceptionMatches(PyExc_TypeError)) {
                        PyErr_Clear(); /* the general path raises its ProtocolError */
                        goto fragment_text;
                    }
                    Py_XDECREF(text);
                    sc->failed = 1;
                    return 0;
                }
            }
        } else {
            Span lp, l = local_part(xsi, &lp);
            if (span_eq(l, "ManagedObjectReference")) {
                /* as decode: MoRef(el.get("type") or "ManagedObjectReference", el.text or "") */
                PyObject *type = mtype.n > 0 ? cached(sc, &sc->types, mtype, NULL)
                                             : PyUnicode_FromString("ManagedObjectReference");
                if (type == NULL) goto fragment_text;
                if (text == NULL && (text = PyUnicode_New(0, 0)) == NULL) {
                    if (mtype.n <= 0) Py_DECREF(type);
                    sc->failed = 1;
                    return 0;
                }
                value = new_moref(sc, type, text);
                text = NULL;
                if (mtype.n <= 0) Py_DECREF(type);
                if (value == NULL) return 0;
            } else {
                goto fragment_text; /* an empty data object, a typed ref, ...: general path */
            }
        }
    } else {
        goto fragment_text;
    }
    Py_XDECREF(text);
    int rc = PyDict_SetItem(values, name, value);
    Py_DECREF(value);
    if (rc != 0) {
        sc->failed = 1;
        return 0;
    }
    return 1;
fragment_text:
    Py_XDECREF(text);
    if (PyDict_SetItem(values, name, Py_None) != 0) {
        sc->failed = 1;
        return 0;
    }
    return add_fragment(sc, frags, row, name, start);
}

/* One <objects>, its start tag read. Appends the row. */
static int read_object(Scanner *sc, PyObject *rows, PyObject *frags) {
    Tag t;
    if (!only_ws(sc) || !read_start_tag(sc, &t) || t.empty || !span_eq(t.name, "obj")) return 0;
    Span mtype = {NULL, -1};
    int seen_xsi = 0;
    for (int i = 0; i < t.nattrs; i++) {
        Span prefix, l = local_part(t.attrs[i].name, &prefix);
        if (prefix.n == 0 && span_eq(l, "type")) {
            mtype = t.attrs[i].value;
        } else if (prefix.n > 0 && span_eq(l, "type") && !seen_xsi) {
            Span u = ns_lookup(sc, prefix); /* xsi:type="ManagedObjectReference": fine */
            if (!(u.n >= 0 && span_eq(u, NS_XSI))) return 0;
            seen_xsi = 1;
        } else {
            return 0;
        }
    }
    PyObject *value = NULL;
    if (!read_text(sc, &value) || !read_end_lit(sc, "obj")) {
        Py_XDECREF(value);
        return 0;
    }
    if (value == NULL && (value = PyUnicode_New(0, 0)) == NULL) {
        sc->failed = 1;
        return 0;
    }
    /* as lxml's path: MoRef(obj.get("type") or "", obj.text or "") */
    PyObject *type = cached(sc, &sc->types, mtype.n > 0 ? mtype : (Span){"", 0}, NULL);
    if (type == NULL) {
        Py_DECREF(value);
        return 0;
    }
    PyObject *ref = new_moref(sc, type, value);
    if (ref == NULL) return 0;
    PyObject *values = PyDict_New();
    PyObject *row = values ? PyTuple_Pack(2, ref, values) : NULL;
    Py_DECREF(ref);
    if (row == NULL || PyList_Append(rows, row) != 0) {
        Py_XDECREF(values);
        Py_XDECREF(row);
        sc->failed = 1;
        return 0;
    }
    Py_DECREF(row);
    Py_DECREF(values); /* the row keeps it */
    Py_ssize_t index = PyList_GET_SIZE(rows) - 1;
    for (;;) {
        if (!only_ws(sc)) return 0;
        if (read_end_lit(sc, "objects")) return 1;
        const char *start = sc->p;
        if (!read_start_tag(sc, &t)) return 0;
        if (span_eq(t.name, "missingSet") && t.nattrs == 0) {
            if (!skip_element(sc, &t)) return 0;
            if (!add_fragment(sc, frags, index, NULL, start)) return 0;
            continue;
        }
        if (!plain(&t, "propSet") || t.empty) return 0;
        if (!only_ws(sc) || !read_start_tag(sc, &t) || !plain(&t, "name") || t.empty) return 0;
        const char *n0 = sc->p;
        const char *n1 = memchr(n0, '<', sc->end - n0);
        if (n1 == NULL) return 0;
        for (const char *c = n0; c < n1; c++) { /* property paths: plain ASCII */
            unsigned char u = (unsigned char)*c;
            if (u == '&' || u == '>' || u < 0x20 || u >= 0x80) return 0;
        }
        sc->p = n1;
        if (!read_end_lit(sc, "name")) return 0;
        if (!only_ws(sc)) return 0;
        start = sc->p;
        if (!read_start_tag(sc, &t) || !span_eq(t.name, "val")) return 0;
        if (n1 == n0) { /* <name></name>: a nameless value is dropped, as lxml's path does */
            if (!skip_element(sc, &t)) return 0;
        } else {
            PyObject *name = cached(sc, &sc->names, (Span){n0, n1 - n0}, NULL);
            if (name == NULL) return 0;
            if (!read_val(sc, &t, start, values, name, frags, index)) return 0;
        }
        if (!only_ws(sc) || !read_end_lit(sc, "propSet")) return 0;
    }
}

static PyObject *scan_payload(Scanner *sc) {
    Tag t;
    const char *p = sc->base;
    /* the XML declaration, strictly: version 1.0, then UTF-8 if an encoding, standalone */
    if (sc->end - p >= 6 && memcmp(p, "<?xml", 5) == 0 && is_ws(p[5])) {
        static const char *names[] = {"version", "encoding", "standalone"};
        int next = 0; /* the pseudo-attributes come in this order, version first */
        sc->p = p + 5;
        for (;;) {
            const char *w = sc->p;
            skip_ws(sc);
            if (sc->end - sc->p >= 2 && sc->p[0] == '?' && sc->p[1] == '>') {
                if (next == 0) return NULL;
                sc->p += 2;
                break;
            }
            if (sc->p == w) return NULL; /* whitespace must separate them */
            const char *n0 = sc->p;
            while (sc->p < sc->end && *sc->p >= 'a' && *sc->p <= 'z') sc->p++;
            Span name = {n0, sc->p - n0};
            int which = -1;
            for (int i = next; i < 3; i++)
                if (span_eq(name, names[i])) which = i;
            if (which < 0 || (next == 0 && which != 0)) return NULL;
            next = which + 1;
            skip_ws(sc);
            if (sc->p >= sc->end || *sc->p != '=') return NULL;
            sc->p++;
            skip_ws(sc);
            if (sc->p >= sc->end || (*sc->p != '"' && *sc->p != '\'')) return NULL;
            char q = *sc->p++;
            const char *v1 = memchr(sc->p, q, sc->end - sc->p);
            if (v1 == NULL) return NULL;
            Span v = {sc->p, v1 - sc->p};
            sc->p = v1 + 1;
            if (which == 0 && !span_eq(v, "1.0")) return NULL;
            if (which == 1 && !(v.n == 5 && strncasecmp(v.s, "utf-8", 5) == 0)) return NULL;
            if (which == 2 && !span_eq(v, "yes") && !span_eq(v, "no")) return NULL;
        }
    }
    /* envelope, body, response */
    if (!only_ws(sc) || !read_start_tag(sc, &t) || t.empty || !declare(sc, &t)) return NULL;
    if (!in_ns(sc, t.name, "Envelope", NS_SOAP)) return NULL;
    Span envelope = t.name;
    if (!only_ws(sc) || !read_start_tag(sc, &t) || t.empty || !declare(sc, &t)) return NULL;
    if (!in_ns(sc, t.name, "Body", NS_SOAP)) return NULL;
    Span body = t.name;
    for (int i = 0; i < t.nattrs; i++) {
        Span prefix;
        if (!is_xmlns(t.attrs[i].name, &prefix)) return NULL;
    }
    if (!only_ws(sc) || !read_start_tag(sc, &t) || !declare(sc, &t)) return NULL;
    Span prefix;
    Span l = local_part(t.name, &prefix);
    if (prefix.n != 0 || !(span_eq(l, "RetrievePropertiesExResponse") ||
                           span_eq(l, "ContinueRetrievePropertiesExResponse")))
        return NULL;
    Span dflt = ns_lookup(sc, prefix);
    if (!(dflt.n >= 0 && span_eq(dflt, NS_VIM))) return NULL;
    for (int i = 0; i < t.nattrs; i++)
        if (!is_xmlns(t.attrs[i].name, &prefix)) return NULL;
    Span response = t.name;

    PyObject *rows = PyList_New(0), *frags = PyList_New(0), *token = NULL;
    if (rows == NULL || frags == NULL) goto fail;
    if (!t.empty) {
        for (;;) {
            if (!only_ws(sc)) goto bail;
            if (read_end_tag(sc, response)) break;
            if (!read_start_tag(sc, &t) || !plain(&t, "returnval")) goto bail;
            if (t.empty) continue;
            for (;;) {
                if (!only_ws(sc)) goto bail;
                if (read_end_lit(sc, "returnval")) break;
                if (!read_start_tag(sc, &t)) goto bail;
                if (plain(&t, "objects") && !t.empty) {
                    if (!read_object(sc, rows, frags)) goto bail;
                } else if (plain(&t, "token")) {
                    Py_CLEAR(token);
                    if (!t.empty) {
                        if (!read_text(sc, &token) || !read_end_lit(sc, "token")) goto bail;
                    }
                } else {
                    goto bail;
                }
            }
        }
    }
    if (!only_ws(sc) || !read_end_tag(sc, body)) goto bail;
    if (!only_ws(sc) || !read_end_tag(sc, envelope)) goto bail;
    skip_ws(sc);
    if (sc->p != sc->end) goto bail;
    PyObject *nsdecl = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(sc->nsdecl),
                                                 PyByteArray_GET_SIZE(sc->nsdecl));
    if (nsdecl == NULL) goto fail;
    PyObject *result = Py_BuildValue("(NNNN)", rows, token ? token : Py_NewRef(Py_None), frags, nsdecl);
    return result;
bail:
    if (sc->failed) goto fail;
    Py_XDECREF(rows);
    Py_XDECREF(frags);
    Py_XDECREF(token);
    return Py_NewRef(Py_None);
fail:
    Py_XDECREF(rows);
    Py_XDECREF(frags);
    Py_XDECREF(token);
    return NULL;
}

static PyObject *scan(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "scan(body, decoders, moref) takes 3 arguments");
        return NULL;
    }
    if (!PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "scan: body must be bytes");
        return NULL;
    }
    if (!PyType_Check(args[2]) || !PyType_IsSubtype((PyTypeObject *)args[2], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "scan: moref must be a tuple subclass");
        return NULL;
    }
    Scanner sc;
    memset(&sc, 0, sizeof sc);
    sc.base = PyBytes_AS_STRING(args[0]);
    sc.p = sc.base;
    sc.end = sc.base + PyBytes_GET_SIZE(args[0]);
    sc.decoders = args[1];
    sc.moref = args[2];
    sc.str_type = (PyObject *)&PyUnicode_Type;
    sc.nsdecl = PyByteArray_FromStringAndSize(NULL, 0);
    if (sc.nsdecl == NULL) return NULL;
    PyObject *result = scan_payload(&sc);
    if (result == NULL && !PyErr_Occurred()) result = Py_NewRef(Py_None);
    if (result != NULL && sc.failed && PyErr_Occurred()) Py_CLEAR(result);
    cache_clear(&sc.names);
    cache_clear(&sc.types);
    cache_clear(&sc.xsi);
    Py_DECREF(sc.nsdecl);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "scan(body, decoders, moref) -> (rows, token, fragments, nsdecl) | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan", "The bulk-read fast path, compiled.", -1, methods,
};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }
