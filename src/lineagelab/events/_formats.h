/* Format checks shared by the validation pre-check (``_check.c``) and the store's native fast path (``_fast.c``):
 * VALID for the plain, unambiguous forms of uuid, RFC 3339 date-time and absolute URI; UNKNOWN for anything else
 * (never INVALID). Include after Python.h, with VALID and UNKNOWN defined. */
#ifndef LINEAGELAB_FORMATS_H
#define LINEAGELAB_FORMATS_H
#include <string.h>

enum { FMT_NONE = 0, FMT_URI = 1, FMT_UUID = 2, FMT_DATETIME = 3 };

static inline int is_hex(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static inline int uuid_ok(const unsigned char *s, Py_ssize_t n) {
    if (n != 36) return UNKNOWN;
    for (Py_ssize_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return UNKNOWN;
        } else if (!is_hex(s[i])) {
            return UNKNOWN;
        }
    }
    return VALID;
}

static inline int digits(const unsigned char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), upper-case T and Z, real calendar days. */
static inline int datetime_ok(const unsigned char *s, Py_ssize_t n) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n < 20) return UNKNOWN;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
        return UNKNOWN;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return UNKNOWN;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > days[mo - 1] + (mo == 2 && leap)) return UNKNOWN;
    Py_ssize_t i = 19;
    if (i < n && s[i] == '.') {
        Py_ssize_t start = ++i;
        while (i < n && is_digit(s[i])) i++;
        if (i == start || i - start > 9) return UNKNOWN;
    }
    if (i == n - 1 && s[i] == 'Z') return VALID;
    if (i == n - 6 && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh >= 0 && oh <= 23 && om >= 0 && om <= 59) return VALID;
    }
    return UNKNOWN;
}

/* Character classes of RFC 3986: unreserved and sub-delims (1), ':' (2), '/' and '?' (4), '@' (8). */
static unsigned char uri_class[256];

static inline void init_classes(void) {
    for (int c = 0; c < 256; c++) {
        if (is_alpha((unsigned char)c) || is_digit((unsigned char)c) || (c && strchr("-._~!$&'()*+,;=", c)))
            uri_class[c] = 1;
    }
    uri_class[':'] = 2;
    uri_class['@'] = 8;
    uri_class['/'] = uri_class['?'] = 4;
}

/* A run of characters of the classes in ``allowed``, percent escapes well-formed; returns the end. */
static inline Py_ssize_t span(const unsigned char *s, Py_ssize_t i, Py_ssize_t n, int allowed, int *bad) {
    while (i < n) {
        unsigned char c = s[i];
        if (uri_class[c] & allowed) {
            i++;
        } else if (c == '%') {
            if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) { *bad = 1; return i; }
            i += 3;
        } else {
            return i;
        }
    }
    return i;
}

/* A host of dot-separated labels of letters, digits, '-' and '_', the last not all digits (so never an IP address
 * to parse, and the same under RFC 3986 and the WHATWG URL rules); returns nonzero when it is one. */
static inline int plain_host(const unsigned char *s, Py_ssize_t a, Py_ssize_t b) {
    Py_ssize_t label = a;
    int all_digits = 1;
    if (a == b) return 0;
    for (Py_ssize_t i = a; i < b; i++) {
        unsigned char c = s[i];
        if (c == '.') {
            if (i == label) return 0;
            label = i + 1;
            all_digits = 1;
        } else if (is_alpha(c) || c == '-' || c == '_') {
            all_digits = 0;
        } else if (!is_digit(c)) {
            return 0;
        }
    }
    if (label == b) return 0; /* a trailing dot */
    if (b - a >= 4 && (s[a] | 32) == 'x' && (s[a + 1] | 32) == 'n' && s[a + 2] == '-' && s[a + 3] == '-') return 0;
    for (Py_ssize_t i = a; i + 4 < b; i++)
        if (s[i] == '.' && (s[i + 1] | 32) == 'x' && (s[i + 2] | 32) == 'n' && s[i + 3] == '-' && s[i + 4] == '-') return 0;
    return !all_digits;
}

/* An absolute URI (RFC 3986): scheme ":" ["//" authority] path ["?" query] ["#" fragment], with a plain host
 * (``plain_host``) and a port of 1-5 digits up to 65535. */
static inline int uri_ok(const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    int bad = 0;
    if (n == 0 || !is_alpha(s[0])) return UNKNOWN;
    while (i < n && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')) i++;
    if (i >= n || s[i] != ':') return UNKNOWN;
    i++;
    if (i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
        i += 2;
        Py_ssize_t a = i, at = -1, colon = -1;
        while (i < n && s[i] != '/' && s[i] != '?' && s[i] != '#') {
            if (s[i] == '@') at = i;
            i++;
        }
        Py_ssize_t host = a;
        if (at >= 0) {
            if (span(s, a, at, 1 | 2, &bad) != at || bad) return UNKNOWN;
            host = at + 1;
        }
        for (Py_ssize_t p = host; p < i; p++)
            if (s[p] == ':') { colon = p; break; }
        if (!plain_host(s, host, colon >= 0 ? colon : i)) return UNKNOWN;
        if (colon >= 0) {
            Py_ssize_t len = i - colon - 1;
            if (len < 1 || len > 5) return UNKNOWN;
            long port = 0;
            for (Py_ssize_t p = colon + 1; p < i; p++) {
                if (!is_digit(s[p])) return UNKNOWN;
                port = port * 10 + (s[p] - '0');
            }
            if (port > 65535) return UNKNOWN;
        }
    }
    /* path, then query: one run, as "?" and "/" are allowed in the query and the fragment too */
    i = span(s, i, n, 1 | 2 | 4 | 8, &bad);
    if (bad) return UNKNOWN;
    if (i < n && s[i] == '#') {
        i = span(s, i + 1, n, 1 | 2 | 4 | 8, &bad);
        if (bad) return UNKNOWN;
    }
    return i == n ? VALID : UNKNOWN;
}


/* ``format`` of an ASCII string (UNKNOWN for anything not ASCII). */
static inline int format_ascii_ok(int format, const unsigned char *s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (s[i] & 0x80) return UNKNOWN;
    switch (format) {
    case FMT_URI: return uri_ok(s, n);
    case FMT_UUID: return uuid_ok(s, n);
    case FMT_DATETIME: return datetime_ok(s, n);
    default: return UNKNOWN;
    }
}
#endif
