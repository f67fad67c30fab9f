/* The s2s challenge-response on the schema's packets (s2s_hello,
 * s2s_hello_result, s2s_auth) and the secret files both ends read: shared by
 * the gameserver's links and the link servers (chatserver, masterserver).
 * Part of the `protocol_auth` target; see proto_auth.h for the primitives. */
#ifndef PROTO_S2S_H
#define PROTO_S2S_H

#include "proto_auth.h"
#include "proto_packets.h"

/* First line of the file at path into out (CR/LF stripped, NUL-terminated):
 * its length, or -1 with a reason in err (cannot open, empty, longer than
 * cap - 2, or a NUL inside); out is wiped on failure.  For secrets and
 * password files: the reason never contains the content. */
int pa_read_first_line(const char *path, char *out, size_t cap, char *err, size_t errlen);

/* The shared secret: the first line of path (at least PA_S2S_SECRET_MIN
 * bytes) -> pa_s2s_key.  0, or -1 with a message in err (never the secret).
 * Checking who may read the file is the caller's (nc_file_is_private). */
int pa_s2s_key_file(const char *path, uint8_t key[PA_S2S_KEY_BYTES], char *err, size_t errlen);

/* Client side of a link: pa_s2s_client_hello fills the hello (a fresh nonce
 * unless key is NULL: insecure mode); pa_s2s_client_result checks the
 * server's answer and proof and, when good, fills the s2s_auth to send
 * (secure mode).  0 ok; -1 with a reason in err. */
void pa_s2s_client_hello(const uint8_t *key, const char *name, uint8_t role, proto_s2s_hello_t *h);
int pa_s2s_client_result(const uint8_t *key, const proto_s2s_hello_t *h,
                         const proto_s2s_hello_result_t *r, proto_s2s_auth_t *auth, char *err,
                         size_t errlen);

#endif
