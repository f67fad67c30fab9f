/* Protocol runtime: error codes, game error codes and the bounded reader and
 * writer that the generated codecs (proto_packets.h) are made of.  No I/O, no
 * malloc; every read and write is checked against the buffer's end. */
#ifndef PROTO_H
#define PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Codec results: 0 / bytes written, or one of these (negative). */
#define PROTO_ERRNO_MAP(X)                                                                         \
    X(ETRUNC, -1, "packet body truncated")                                                         \
    X(ETRAILING, -2, "trailing bytes after packet body")                                           \
    X(ETOOLONG, -3, "string, bytes or array longer than its schema maximum")                       \
    X(EUNKNOWN, -4, "unknown packet type")                                                         \
    X(EBUFSIZE, -5, "output buffer too small")                                                     \
    X(EINVAL, -6, "invalid value (bool not 0/1 or NUL inside a string)")

enum {
#define PROTO_X_(name, val, msg) PROTO_##name = val,
    PROTO_ERRNO_MAP(PROTO_X_)
#undef PROTO_X_
};
const char *proto_strerror(int err);

/* Game-level result codes carried in login_result.code, error.code, etc.
 * (positive; 0 is success).  Add yours from 1000 up. */
#define PROTO_ERR_MAP(X)                                                                           \
    X(OK, 0, "ok")                                                                                 \
    X(HASH_MISMATCH, 1, "protocol hash mismatch: client and server differ")                        \
    X(BAD_NAME, 2, "invalid character name")                                                       \
    X(ALREADY_ONLINE, 3, "character already online")                                               \
    X(SERVER_FULL, 4, "server full")                                                               \
    X(NOT_LOGGED_IN, 5, "not logged in")                                                           \
    X(BAD_PACKET, 6, "malformed or unexpected packet")                                             \
    X(NO_SUCH_ZONE, 7, "no such zone")                                                             \
    X(NO_SUCH_PLAYER, 8, "no such player")                                                         \
    X(INTERNAL, 9, "internal server error")                                                        \
    X(SHUTTING_DOWN, 10, "server shutting down")                                                   \
    X(RATE_LIMITED, 11, "too many requests")                                                       \
    X(AUTH_FAILED, 12, "wrong account name or password")                                           \
    X(LOCKED_OUT, 13, "too many failed logins: try again later")                                   \
    X(NAME_TAKEN, 14, "account name taken")                                                        \
    X(REGISTRATION_CLOSED, 15, "registration is closed on this login server")                      \
    X(BAD_PASSWORD, 16, "password does not meet the policy")                                       \
    X(TICKET_EXPIRED, 17, "login ticket expired")                                                  \
    X(TICKET_REPLAYED, 18, "login ticket already used")                                            \
    X(TICKET_WRONG_SHARD, 19, "login ticket is for another shard")                                 \
    X(TICKET_FORGED, 20, "login ticket signature invalid")                                         \
    X(TICKET_MALFORMED, 21, "login ticket missing, truncated or malformed")                        \
    X(NOT_OWNER, 22, "character belongs to another account")                                       \
    X(NOT_ALLOWED, 23, "not allowed")                                                              \
    X(S2S_AUTH_FAILED, 24, "server-to-server authentication failed")                               \
    X(NOT_AUTHENTICATED, 25, "log in to an account first")                                         \
    X(NO_SUCH_SHARD, 26, "no such shard, or it is down")                                           \
    X(IDLE, 27, "closed for inactivity")                                                           \
    X(TRY_LATER, 28, "temporarily unavailable: try again shortly")

enum {
#define PROTO_X_(name, val, msg) PROTO_ERR_##name = val,
    PROTO_ERR_MAP(PROTO_X_)
#undef PROTO_X_
};
const char *proto_err_text(int code);

enum { PROTO_DIR_C2S = 1, PROTO_DIR_S2C = 2, PROTO_DIR_S2S = 3 };

/* Largest body: the engine's 65535-byte packet minus its 4-byte header.
 * protogen refuses a schema whose packet could exceed it. */
#define PROTO_MAX_BODY (65535 - 4)

/* ---- bounded writer ------------------------------------------------------
 * Errors are sticky: after the first failure every call is a no-op, so the
 * generated code checks w->err once at the end. */
typedef struct proto_w_s {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;
} proto_w_t;

static inline uint8_t *proto_w_take(proto_w_t *w, size_t n)
{
    if (w->err)
        return NULL;
    if (n > w->cap - w->len) {
        w->err = PROTO_EBUFSIZE;
        return NULL;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

static inline void proto_w_le(proto_w_t *w, uint64_t v, size_t n)
{
    uint8_t *p = proto_w_take(w, n);
    if (p)
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)(v >> (8 * i));
}

static inline void proto_w_u8(proto_w_t *w, uint8_t v)
{
    proto_w_le(w, v, 1);
}
static inline void proto_w_u16(proto_w_t *w, uint16_t v)
{
    proto_w_le(w, v, 2);
}
static inline void proto_w_u32(proto_w_t *w, uint32_t v)
{
    proto_w_le(w, v, 4);
}
static inline void proto_w_u64(proto_w_t *w, uint64_t v)
{
    proto_w_le(w, v, 8);
}
static inline void proto_w_i8(proto_w_t *w, int8_t v)
{
    proto_w_le(w, (uint8_t)v, 1);
}
static inline void proto_w_i16(proto_w_t *w, int16_t v)
{
    proto_w_le(w, (uint16_t)v, 2);
}
static inline void proto_w_i32(proto_w_t *w, int32_t v)
{
    proto_w_le(w, (uint32_t)v, 4);
}
static inline void proto_w_i64(proto_w_t *w, int64_t v)
{
    proto_w_le(w, (uint64_t)v, 8);
}
static inline void proto_w_bool(proto_w_t *w, bool v)
{
    proto_w_le(w, v ? 1u : 0u, 1);
}
static inline void proto_w_f32(proto_w_t *w, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    proto_w_le(w, u, 4);
}

/* A length or count prefix; over max is the caller's error, not the buffer's. */
static inline void proto_w_count(proto_w_t *w, size_t n, size_t max)
{
    if (!w->err && n > max)
        w->err = PROTO_ETOOLONG;
    proto_w_le(w, n, 2);
}

static inline void proto_w_bytes(proto_w_t *w, const uint8_t *p, size_t n, size_t max)
{
    proto_w_count(w, n, max);
    uint8_t *d = proto_w_take(w, n);
    if (d && n)
        memcpy(d, p, n);
}

/* s lives in a char[max + 1]: the NUL search never reads past it, and a
 * string filling all max + 1 bytes is ETOOLONG. */
static inline void proto_w_str(proto_w_t *w, const char *s, size_t max)
{
    const char *z = (const char *)memchr(s, 0, max + 1);
    proto_w_bytes(w, (const uint8_t *)s, z ? (size_t)(z - s) : max + 1, max);
}

/* ---- bounded reader ------------------------------------------------------
 * Same sticky-error rule; on error the destination is left untouched. */
typedef struct proto_r_s {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    int err;
} proto_r_t;

static inline const uint8_t *proto_r_take(proto_r_t *r, size_t n)
{
    if (r->err)
        return NULL;
    if (n > r->len - r->pos) {
        r->err = PROTO_ETRUNC;
        return NULL;
    }
    const uint8_t *p = r->buf + r->pos;
    r->pos += n;
    return p;
}

static inline uint64_t proto_r_le(proto_r_t *r, size_t n)
{
    const uint8_t *p = proto_r_take(r, n);
    uint64_t v = 0;
    if (p)
        for (size_t i = 0; i < n; i++)
            v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void proto_r_u8(proto_r_t *r, uint8_t *v)
{
    *v = (uint8_t)proto_r_le(r, 1);
}
static inline void proto_r_u16(proto_r_t *r, uint16_t *v)
{
    *v = (uint16_t)proto_r_le(r, 2);
}
static inline void proto_r_u32(proto_r_t *r, uint32_t *v)
{
    *v = (uint32_t)proto_r_le(r, 4);
}
static inline void proto_r_u64(proto_r_t *r, uint64_t *v)
{
    *v = proto_r_le(r, 8);
}
/* Two's complement conversions through memcpy: no implementation-defined casts. */
static inline void proto_r_i8(proto_r_t *r, int8_t *v)
{
    uint8_t u = (uint8_t)proto_r_le(r, 1);
    memcpy(v, &u, 1);
}
static inline void proto_r_i16(proto_r_t *r, int16_t *v)
{
    uint16_t u = (uint16_t)proto_r_le(r, 2);
    memcpy(v, &u, 2);
}
static inline void proto_r_i32(proto_r_t *r, int32_t *v)
{
    uint32_t u = (uint32_t)proto_r_le(r, 4);
    memcpy(v, &u, 4);
}
static inline void proto_r_i64(proto_r_t *r, int64_t *v)
{
    uint64_t u = proto_r_le(r, 8);
    memcpy(v, &u, 8);
}
static inline void proto_r_f32(proto_r_t *r, float *v)
{
    uint32_t u = (uint32_t)proto_r_le(r, 4);
    memcpy(v, &u, 4);
}
static inline void proto_r_bool(proto_r_t *r, bool *v)
{
    uint64_t u = proto_r_le(r, 1);
    if (u > 1 && !r->err)
        r->err = PROTO_EINVAL;
    *v = u == 1;
}

static inline size_t proto_r_count(proto_r_t *r, size_t max)
{
    size_t n = (size_t)proto_r_le(r, 2);
    if (!r->err && n > max)
        r->err = PROTO_ETOOLONG;
    return r->err ? 0 : n;
}

static inline void proto_r_bytes(proto_r_t *r, uint8_t *dst, uint16_t *n, size_t max)
{
    size_t len = proto_r_count(r, max);
    const uint8_t *p = proto_r_take(r, len);
    if (p && len)
        memcpy(dst, p, len);
    *n = p ? (uint16_t)len : 0;
}

/* dst is a char[max + 1]; always NUL-terminated, even on error. */
static inline void proto_r_str(proto_r_t *r, char *dst, size_t max)
{
    size_t len = proto_r_count(r, max);
    const uint8_t *p = proto_r_take(r, len);
    if (!p)
        len = 0;
    if (len && memchr(p, 0, len)) {
        r->err = PROTO_EINVAL;
        len = 0;
    }
    if (len)
        memcpy(dst, p, len);
    dst[len] = '\0';
}

/* Result of a whole decode: the first error, else trailing bytes, else 0. */
static inline int proto_r_end(const proto_r_t *r)
{
    if (r->err)
        return r->err;
    return r->pos == r->len ? 0 : PROTO_ETRAILING;
}

#endif
